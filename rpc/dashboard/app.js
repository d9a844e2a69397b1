/* sbx supervision dashboard. Reads this node only: JSON-RPC batches (POST /) and the event
 * stream (GET /events), both with the credentials the browser already sent for the page. Charts
 * are drawn as inline SVG by the code below; no library, nothing from elsewhere. */
'use strict';

(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  var DAY_MS = 86400000;
  var TPS_WINDOW_S = 300;      /* the trades-per-second chart: the last 5 minutes */
  var TPS_BUCKET_S = 5;        /* in buckets of 5 seconds */
  var LIST_MAX = 50;           /* entries kept in each list on the page */
  var PAGES_MAX = 20;          /* pages of 1000 read at load for today's counts */
  var EVENTS = ['block', 'tx', 'rejection', 'alert', 'directive', 'attestation', 'node_alert'];

  var st = {
    info: null, licence: null, sup: null,
    offsetMin: 420, dayStart: 0,
    lastBlockMs: null,
    rejByRule: {}, rejSeen: {},
    alertsByKind: {}, alertSeen: {},
    trades: {}, tradeSeen: {},   /* bucket index -> count */
    nodeAlerts: [], nodeAlertSeen: {},
    directiveSeen: {},
    refreshTimer: null, loaded: false, queue: [],
    lastBlockFromEvent: false, lastId: null  /* the last ledger event id seen */
  };

  function $(id) { return document.getElementById(id); }

  function setText(id, text) {
    var el = $(id);
    if (el) el.textContent = text;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  function short(hex) {
    return typeof hex === 'string' && hex.length > 16 ? hex.slice(0, 12) + '\u2026' : String(hex);
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function clock(ms) {
    var d = new Date(ms);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  function ago(ms) {
    if (ms < 0) ms = 0;
    var s = Math.floor(ms / 1000);
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.floor(s / 60) + ' min';
    if (s < 2 * 86400) return Math.floor(s / 3600) + ' h';
    return Math.floor(s / 86400) + ' d';
  }

  function showError(msg) {
    var e = $('error');
    if (!msg) { e.hidden = true; return; }
    e.hidden = false;
    e.textContent = msg;
  }

  /* ---------------------------------------------------------------- JSON-RPC */

  var rpcId = 0;

  /* calls: [[method, params], ...]; resolves to [{result} or {error}] in call order. */
  function rpc(calls) {
    var body = calls.map(function (c) {
      var r = {jsonrpc: '2.0', id: ++rpcId, method: c[0]};
      if (c[1]) r.params = c[1];
      return r;
    });
    var first = body[0].id;
    return fetch('/', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)
    }).then(function (resp) {
      if (!resp.ok) throw new Error('JSON-RPC: HTTP ' + resp.status);
      return resp.json();
    }).then(function (replies) {
      var out = [];
      (Array.isArray(replies) ? replies : [replies]).forEach(function (r) {
        out[r.id - first] = r;
      });
      return calls.map(function (c, i) { return out[i] || {error: {message: 'no answer'}}; });
    });
  }

  /* Every page of a list method from `params`, at most PAGES_MAX. */
  function listAll(method, params, onItems) {
    var pages = 0;
    function page(cursor) {
      var p = Object.assign({limit: 1000}, params);
      if (cursor) p.cursor = cursor;
      return rpc([[method, p]]).then(function (r) {
        var res = r[0].result;
        if (!res) return;
        onItems(res.items || []);
        if (res.next_cursor && ++pages < PAGES_MAX) return page(res.next_cursor);
      });
    }
    return page(null);
  }

  /* ---------------------------------------------------------------- state updates */

  function dayStart(now) {
    var off = st.offsetMin * 60000;
    return Math.floor((now + off) / DAY_MS) * DAY_MS - off;
  }

  function today(ms) {
    return typeof ms !== 'number' || ms >= st.dayStart;
  }

  function countRejection(tx) {
    if (!tx || !tx.rule) return false;
    var key = tx.txid || (tx.height + ':' + tx.index);
    if (st.rejSeen[key] || !today(tx.timestamp)) return false;
    st.rejSeen[key] = 1;
    st.rejByRule[tx.rule] = (st.rejByRule[tx.rule] || 0) + 1;
    return true;
  }

  function countAlert(a) {
    if (!a || !a.kind) return false;
    var key = a.id || a.txid + ':' + a.kind;
    if (st.alertSeen[key]) return false;
    st.alertSeen[key] = 1;
    if (today(a.time)) st.alertsByKind[a.kind] = (st.alertsByKind[a.kind] || 0) + 1;
    return true;
  }

  function countTrade(tx) {
    if (!tx || tx.type !== 'trade' || tx.verdict !== 'accepted') return;
    var key = tx.txid || (tx.height + ':' + tx.index);
    if (st.tradeSeen[key]) return;
    st.tradeSeen[key] = 1;
    var t = typeof tx.timestamp === 'number' ? tx.timestamp : Date.now();
    var b = Math.floor(t / 1000 / TPS_BUCKET_S);
    st.trades[b] = (st.trades[b] || 0) + 1;
  }

  function pushItem(listId, li, front) {
    var ul = $(listId);
    var empty = ul.querySelector('.empty');
    if (empty) ul.removeChild(empty);
    if (front && ul.firstChild) ul.insertBefore(li, ul.firstChild);
    else ul.appendChild(li);
    while (ul.children.length > LIST_MAX) ul.removeChild(front ? ul.lastChild : ul.firstChild);
  }

  function emptyNote(listId, text) {
    var ul = $(listId);
    if (!ul.firstChild) ul.appendChild(el('li', 'empty', text));
  }

  function addAlert(a, live) {
    var li = el('li', live ? 'new' : '');
    li.appendChild(el('span', 'when', clock(a.time || Date.now())));
    li.appendChild(el('strong', '', a.kind));
    li.appendChild(document.createTextNode(' ' + (a.account || '') +
      (a.amount_vnd ? ' \u2014 ' + Number(a.amount_vnd).toLocaleString('en') + ' VND' : '')));
    pushItem('alerts', li, true);
  }

  function addNodeAlert(a, live) {
    var key = a.seq !== undefined ? a.seq : a.time + a.kind;
    if (st.nodeAlertSeen[key]) return;
    st.nodeAlertSeen[key] = 1;
    st.nodeAlerts.push(a);
    var li = el('li', live ? 'new' : '');
    li.appendChild(el('span', 'when', clock(a.time || Date.now())));
    li.appendChild(el('span', a.severity === 'critical' ? 'critical' : 'warning', a.kind));
    li.appendChild(document.createTextNode(' ' + (a.height ? 'height ' + a.height + ': ' : '') +
      (a.message || '')));
    pushItem('node-alerts', li, true);
  }

  function addDirective(d, live) {
    var key = d.txid || (d.height + ':' + d.index);
    if (st.directiveSeen[key]) return;
    st.directiveSeen[key] = 1;
    var li = el('li', live ? 'new' : '');
    li.appendChild(el('span', 'when', clock(d.timestamp || Date.now())));
    var what = d.kind || 'directive';
    if (d.asset) what += ' ' + d.asset;
    if (d.account) what += ' ' + d.account;
    if (d.name) what += ' ' + d.name + '=' + d.value;
    li.appendChild(el('strong', '', what));
    var tail = [];
    if (d.verdict && d.verdict !== 'accepted') tail.push(d.verdict + (d.rule ? ' (' + d.rule + ')' : ''));
    if (d.reason) tail.push(d.reason);
    if (d.height) tail.push('height ' + d.height);
    li.appendChild(document.createTextNode(' ' + tail.join(' \u2014 ')));
    pushItem('directives', li, true);
  }

  /* ---------------------------------------------------------------- rendering */

  function badgeClass(status) {
    if (status === 'active') return 'badge badge-ok';
    if (status === 'suspended' || status === 'wind_down') return 'badge badge-warn';
    return 'badge badge-bad';
  }

  function renderLicence() {
    var l = st.licence;
    if (!l) return;
    setText('licence-id', l.licence_id);
    var s = $('licence-status');
    s.textContent = l.status;
    s.className = badgeClass(l.status);
    var days = Math.floor((l.valid_to - Date.now()) / DAY_MS);
    setText('licence-days', days >= 0 ? days + ' days (' + new Date(l.valid_to).toISOString()
      .slice(0, 10) + ')' : 'expired ' + (-days) + ' days ago');
    setText('licence-version', 'version ' + l.version);
    var halted = l.halted ? 'halted' : (l.halted_assets && l.halted_assets.length ?
      'halted: ' + l.halted_assets.join(', ') : 'open');
    setText('market', halted);
  }

  function renderChain() {
    var i = st.info;
    if (!i) return;
    setText('network', i.network);
    setText('role', i.role + ' node');
    setText('height', String(i.height));
    setText('final-height', String(st.sup ? st.sup.final_height : i.final_height));
    setText('tip-hash', i.tip_hash ? 'tip ' + i.tip_hash : '');
    setText('block-age', st.lastBlockMs ? ago(Date.now() - st.lastBlockMs) : '\u2013');
  }

  function renderRegulators() {
    var s = st.sup;
    if (!s) return;
    var tb = $('regulators');
    clear(tb);
    var height = st.info ? st.info.height : 0;
    (s.regulators || []).forEach(function (r) {
      var tr = el('tr');
      var k = el('td', 'mono', short(r.key));
      k.title = r.key;
      tr.appendChild(k);
      tr.appendChild(el('td', '', String(r.attested_height)));
      var lagBlocks = Math.max(0, height - (r.attested_height || 0));
      tr.appendChild(el('td', '', lagBlocks + (lagBlocks === 1 ? ' block' : ' blocks') +
        (r.lag_ms !== null && r.lag_ms !== undefined ? ', ' + ago(r.lag_ms) : '')));
      tb.appendChild(tr);
    });
    setText('supervision', 'quorum ' + s.attestation_quorum + ' \u2014 supervision ' +
      (s.supervision_ok ? 'ok' : 'NOT ok') + (s.max_lag_s ? ' (max lag ' + s.max_lag_s + ' s)' : ''));
  }

  function renderBanner() {
    var i = st.info, b = $('banner');
    if (!i) return;
    var crit = st.nodeAlerts.filter(function (a) {
      return a.kind === 'block_invalid' || a.kind === 'equivocation';
    });
    var cls, text, detail = '';
    if (i.role !== 'operator') {
      if (i.following === false) {
        cls = 'banner-bad';
        text = 'NOT FOLLOWING the operator';
      } else if (crit.length) {
        cls = 'banner-warn';
        text = 'Following again, after a refused block';
      } else {
        cls = 'banner-ok';
        text = 'Following the operator';
      }
      if (crit.length) {
        var c = crit[crit.length - 1];
        detail = (c.kind === 'equivocation' ? 'EQUIVOCATION: the operator signed two blocks at height '
          : 'Refused block at height ') + c.height + (c.message ? ' \u2014 ' + c.message : '');
      }
    } else if (st.sup && st.sup.supervision_ok === false) {
      cls = 'banner-bad';
      text = 'Supervision lag: business transactions are refused';
    } else if (i.halted) {
      cls = 'banner-warn';
      text = 'Market halted by directive';
    } else {
      cls = 'banner-ok';
      text = 'Operating: supervision ok';
    }
    if (i.critical_alerts && !detail) detail = i.critical_alerts + ' critical node alert(s)';
    b.className = 'banner ' + cls;
    clear(b);
    b.appendChild(document.createTextNode(text));
    if (detail) b.appendChild(el('span', 'detail', detail));
  }

  /* Horizontal bars, one per entry, sorted by count. */
  function barChart(id, counts, barCls, emptyText) {
    var box = $(id);
    clear(box);
    var keys = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); });
    if (!keys.length) {
      box.appendChild(el('div', 'empty', emptyText));
      return 0;
    }
    var W = Math.max(240, box.clientWidth || 360), ROW = 22, LABEL = 160, max = 0, total = 0;
    keys.forEach(function (k) { max = Math.max(max, counts[k]); total += counts[k]; });
    var s = svg('svg', {viewBox: '0 0 ' + W + ' ' + (keys.length * ROW + 4), role: 'img'});
    keys.forEach(function (k, n) {
      var y = n * ROW + 2, w = Math.max(2, Math.round((W - LABEL - 40) * counts[k] / max));
      var label = svg('text', {x: 0, y: y + 15, 'class': 'bar-label'}, k);
      s.appendChild(label);
      s.appendChild(svg('rect', {x: LABEL, y: y + 3, width: w, height: ROW - 6, 'class': barCls}));
      s.appendChild(svg('text', {x: LABEL + w + 4, y: y + 15, 'class': 'value'}, String(counts[k])));
    });
    box.appendChild(s);
    return total;
  }

  function renderCharts() {
    var r = barChart('rejections-chart', st.rejByRule, 'bar-bad', 'no rejection today');
    setText('rejections-total', r ? String(r) : '');
    var a = barChart('alerts-chart', st.alertsByKind, 'bar-warn', 'no alert today');
    setText('alerts-total', a ? String(a) : '');
  }

  /* Columns: trades per second in each bucket of the last TPS_WINDOW_S seconds. */
  function renderTps() {
    var box = $('tps-chart');
    var n = TPS_WINDOW_S / TPS_BUCKET_S;
    var last = Math.floor(Date.now() / 1000 / TPS_BUCKET_S);
    var vals = [], max = 0;
    Object.keys(st.trades).forEach(function (b) {
      if (Number(b) <= last - n) delete st.trades[b];
    });
    for (var b = last - n + 1; b <= last; b++) {
      var v = (st.trades[b] || 0) / TPS_BUCKET_S;
      vals.push(v);
      max = Math.max(max, v);
    }
    var top = max > 0 ? niceCeil(max) : 1;
    var W = Math.max(240, box.clientWidth || 600), H = 150, L = 34, B = 18, cw = (W - L) / n;
    var s = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img'});
    s.appendChild(svg('line', {x1: L, y1: H - B, x2: W, y2: H - B, 'class': 'axis'}));
    s.appendChild(svg('line', {x1: L, y1: 4, x2: W, y2: 4, 'class': 'axis'}));
    s.appendChild(svg('text', {x: 0, y: 14}, String(top)));
    s.appendChild(svg('text', {x: 0, y: H - B}, '0'));
    s.appendChild(svg('text', {x: L, y: H - 4}, '-5 min'));
    s.appendChild(svg('text', {x: W - 30, y: H - 4}, 'now'));
    vals.forEach(function (v, i) {
      if (!v) return;
      var h = Math.max(1, (H - B - 4) * v / top);
      s.appendChild(svg('rect', {x: L + i * cw + 1, y: H - B - h, width: Math.max(1, cw - 2),
        height: h, 'class': 'bar'}));
    });
    clear(box);
    box.appendChild(s);
    var minute = 0;
    for (var k = vals.length - 60 / TPS_BUCKET_S; k < vals.length; k++) minute += vals[k] * TPS_BUCKET_S;
    setText('tps-now', 'last minute: ' + minute + ' trades (' + (minute / 60).toFixed(2) + '/s)');
  }

  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (v <= steps[i] * p) return steps[i] * p;
    return 10 * p;
  }

  function renderAll() {
    renderLicence();
    renderChain();
    renderRegulators();
    renderBanner();
    renderCharts();
    renderTps();
  }

  /* ---------------------------------------------------------------- loading */

  /* getinfo, getsupervision and getlicence again: after a block, an attestation, a directive. */
  function refresh() {
    if (st.refreshTimer) return;
    st.refreshTimer = setTimeout(function () {
      st.refreshTimer = null;
      rpc([['getinfo'], ['getsupervision'], ['getlicence']]).then(function (r) {
        if (r[0].result) {
          if (st.info && r[0].result.height > st.info.height && !st.lastBlockFromEvent)
            st.lastBlockMs = Date.now();
          st.info = r[0].result;
        }
        if (r[1].result) st.sup = r[1].result;
        if (r[2].result) st.licence = r[2].result;
        showError(null);
        renderAll();
      }).catch(function (e) { showError('Cannot reach the node: ' + e.message); });
    }, 300);
  }

  function load() {
    return rpc([['getinfo'], ['getlicence'], ['getsupervision'], ['listnodealerts'],
                ['listalerts', {limit: 20}]]).then(function (r) {
      if (!r[0].result || !r[1].result || !r[2].result)
        throw new Error((r[0].error || r[1].error || r[2].error).message);
      st.info = r[0].result;
      st.licence = r[1].result;
      st.sup = r[2].result;
      var off = st.licence.params && st.licence.params['time.utc_offset_min'];
      if (typeof off === 'number') st.offsetMin = off;
      st.dayStart = dayStart(Date.now());
      ((r[3].result && r[3].result.items) || []).forEach(function (a) { addNodeAlert(a, false); });
      emptyNote('node-alerts', 'none');
      var alerts = ((r[4].result && r[4].result.items) || []).slice().reverse();
      alerts.forEach(function (a) { addAlert(a, false); });
      emptyNote('alerts', 'none');
      emptyNote('directives', 'none since the page opened');
      renderAll();
      return rpc([['getblock', {height: st.info.height}]]);
    }).then(function (r) {
      if (r[0].result && typeof r[0].result.time === 'number') st.lastBlockMs = r[0].result.time;
      renderChain();
      var now = Date.now();
      return Promise.all([
        listAll('listrejections', {from: st.dayStart}, function (items) {
          items.forEach(countRejection);
        }),
        listAll('listalerts', {from: st.dayStart}, function (items) { items.forEach(countAlert); }),
        listAll('listtrades', {from: now - TPS_WINDOW_S * 1000}, function (items) {
          items.forEach(countTrade);
        })
      ]);
    }).then(function () {
      st.loaded = true;
      st.queue.splice(0).forEach(function (e) { onEvent(e[0], e[1]); });
      renderAll();
    });
  }

  /* ---------------------------------------------------------------- the event stream */

  function onEvent(type, data) {
    switch (type) {
    case 'block':
      if (typeof data.height === 'number' && st.info && data.height > st.info.height) {
        st.info.height = data.height;
        if (data.hash) st.info.tip_hash = data.hash;
      }
      st.lastBlockMs = typeof data.time === 'number' ? data.time : Date.now();
      st.lastBlockFromEvent = true;
      renderChain();
      refresh();
      break;
    case 'tx':
      countTrade(data);
      if (data.verdict === 'rejected' && countRejection(data)) renderCharts();
      if (data.type === 'directive') addDirective(data, true);
      break;
    case 'rejection':
      if (countRejection(data.tx || data)) renderCharts();
      break;
    case 'alert':
      if (countAlert(data)) {
        addAlert(data, true);
        renderCharts();
      }
      break;
    case 'directive':
      addDirective(data.tx || data, true);
      refresh();
      break;
    case 'attestation':
      refresh();
      break;
    case 'node_alert':
      addNodeAlert(data, true);
      refresh();
      renderBanner();
      break;
    }
  }

  /* The browser reconnects a dropped stream by itself (with Last-Event-ID); a stream the node
   * refused or closed for good (HTTP 503: too many streams) is opened again here after a pause,
   * from the event after the last ledger event seen. */
  function stream() {
    var tag = $('stream');
    var es = new EventSource('/events' + (st.lastId !== null ? '?from=' + (st.lastId + 1) : ''));
    es.onopen = function () {
      tag.textContent = 'live';
      tag.className = 'tag stream-on';
      refresh(); /* catch up on what happened while the stream was down */
    };
    es.onerror = function () {
      tag.textContent = 'reconnecting';
      tag.className = 'tag stream-off';
      if (es.readyState === EventSource.CLOSED) setTimeout(stream, 10000);
    };
    EVENTS.forEach(function (type) {
      es.addEventListener(type, function (ev) {
        var data;
        if (/^[0-9]+$/.test(ev.lastEventId)) st.lastId = Number(ev.lastEventId);
        try {
          data = JSON.parse(ev.data);
        } catch (e) {
          return; /* not ours to show */
        }
        if (!data || typeof data !== 'object') return;
        if (st.loaded) onEvent(type, data);
        else st.queue.push([type, data]); /* shown once the page has loaded */
      });
    });
  }

  function tick() {
    var now = Date.now();
    if (st.loaded && dayStart(now) !== st.dayStart) {
      st.dayStart = dayStart(now); /* a new local day: today's counts start again */
      st.rejByRule = {};
      st.alertsByKind = {};
      renderCharts();
    }
    renderChain();
    renderLicence();
    renderTps();
    setText('clock', 'Updated ' + clock(now));
  }

  document.addEventListener('DOMContentLoaded', function () {
    stream();
    load().catch(function (e) { showError('Cannot load the dashboard: ' + e.message); });
    setInterval(tick, 1000);
    window.addEventListener('resize', function () { renderCharts(); renderTps(); });
    setInterval(refresh, 15000);
  });
})();
