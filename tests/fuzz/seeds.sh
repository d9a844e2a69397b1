#!/bin/sh
# Remake the seed corpora tests/fuzz/corpus/<target>/ from real encodings (README.md):
#
#   tests/fuzz/seeds.sh BUILDDIR [TARGET...]
#
# (only the corpora of the TARGETs named, if any: the others are left as they are)
# BUILDDIR is a clang --enable-fuzz build with the targets, tests/fuzz/fuzz_seeds and
# tests/bench/sbx-gen-chain built (make fuzz tests/fuzz/fuzz_seeds tests/bench/sbx-gen-chain).
# sbx-gen-chain writes a small devnet chain (accounts, deposits, trades, directives) through the
# chain API, fuzz_seeds turns its blocks, transactions and store records into seeds, and the
# text seeds come from the repository: every JSON-RPC request of doc/rpc.md (fuzz_rpc), the
# values of their parameters (fuzz_params), contrib/sbx.conf.example and a command line
# (fuzz_config), contrib/licence.example.json (fuzz_licence, fuzz_genesis), requests as a client
# sends them (fuzz_httphead); fuzz_proof's gettxproof results come from fuzz_seeds too (it opens
# the chain as a devnet node). Each corpus is then minimized with libFuzzer's -merge=1 (what adds no coverage is left out), so that the
# committed corpora stay small.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
shift
only=" $* "
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
export ASAN_OPTIONS=detect_leaks=0

"$build/tests/bench/sbx-gen-chain" -datadir="$work/chain" -trades=40 -accounts=4 -blocktxs=8 \
    >"$work/gen.log" 2>&1 || { cat "$work/gen.log"; exit 1; }
"$build/tests/fuzz/fuzz_seeds" "$work/chain" "$work/raw"

python3 - "$src" "$work/raw" <<'PY'
import json, os, re, sys

src, raw = sys.argv[1], sys.argv[2]

def put(target, name, data):
    os.makedirs(os.path.join(raw, target), exist_ok=True)
    with open(os.path.join(raw, target, name), 'wb') as f:
        f.write(data)

# fuzz_rpc: the requests of doc/rpc.md, compact; and a batch of the first two
text = open(os.path.join(src, 'doc', 'rpc.md'), encoding='utf-8').read()
reqs = []
for m in re.finditer(r'Request:\s*\n```json\n(.*?)\n```', text, re.S):
    try:
        reqs.append(json.loads(m.group(1)))
    except ValueError:
        pass
for i, r in enumerate(reqs):
    put('fuzz_rpc', 'req-%03d' % i, json.dumps(r, separators=(',', ':')).encode())
put('fuzz_rpc', 'batch', json.dumps(reqs[:2], separators=(',', ':')).encode())

# fuzz_params: selector byte (fuzz_params.c's enum parser), argument byte, value
AMOUNT, HEX32, ID, STR, INT, BOOL, SYMBOL, ENUM, LIST, SPEC, HEXVAR, TIME, DAY, NUM = range(14)
amounts = {'qty', 'price', 'amount', 'value', 'fee'}
ids = {'account', 'trade_id', 'transfer_id', 'id', 'counterparty', 'buyer', 'seller'}
n = 0
def param(sel, arg, value):
    global n
    n += 1
    put('fuzz_params', 'p-%03d' % n, bytes([sel, arg]) + value)
for r in (x for req in reqs for x in (req if isinstance(req, list) else [req])):
    p = r.get('params')
    if not isinstance(p, dict):
        continue
    param(LIST, 0, json.dumps(p).encode())
    for k, v in p.items():
        j = json.dumps(v).encode()
        if isinstance(v, bool):
            param(BOOL, 0, j)
        elif isinstance(v, int):
            param(INT, 0, j)
            param(NUM, 0, str(v).encode())
        elif not isinstance(v, str):
            continue
        elif k in amounts:
            param(AMOUNT, 8, j)
        elif re.fullmatch(r'[0-9a-f]{64}', v):
            param(HEX32, 0, j)
            param(HEXVAR, 0, v.encode())
        elif re.fullmatch(r'\d{4}-\d\d-\d\d', v):
            param(DAY, 0, v.encode())
        elif re.fullmatch(r'\d{4}-\d\d-\d\dT.*', v):
            param(TIME, 0, v.encode())
        elif re.fullmatch(r'[A-Z0-9]{1,10}', v):
            param(SYMBOL, 0, j)
        elif k in ids:
            param(ID, 0, j)
        else:
            param(STR, 64, j)
            param(ENUM, 0, j)

# the HTTP side of fuzz_params: Authorization, an rpcauth line, Last-Event-ID, topics, a path
import base64
param(14, 0, b'Basic ' + base64.b64encode(b'u:p'))
param(15, 0, b'alice:0123abcd$' + b'ab' * 32 + b':operator')
param(16, 0, b'41')
param(16, 0, b'41:3')
param(17, 0, b'block,tx,node_alert')
param(18, 0, b'/dashboard/app.js')

# fuzz_config: the example file, and a command line with a file
conf = open(os.path.join(src, 'contrib', 'sbx.conf.example'), 'rb').read()
put('fuzz_config', 'example', b'\0' + conf)
put('fuzz_config', 'cmdline', b'-devnet\n-rpcport=18645\n-debug=rpc,p2p\n-rpcthreads=2\n'
    b'-connect=127.0.0.1:18646\n-rpcallowip=10.0.0.0/8\n\0[devnet]\nrpcmaxbatch=10\nlisten=0\n')

# fuzz_licence and fuzz_genesis: the example licence file
lic = open(os.path.join(src, 'contrib', 'licence.example.json'), 'rb').read()
put('fuzz_licence', 'example', lic)
put('fuzz_genesis', 'licence-example', b'\2' + lic)

# fuzz_httphead: the raw headers the RPC front door reads (what a client sends first)
auth = b'Authorization: Basic ' + base64.b64encode(b'rpcuser:rpcpass') + b'\r\n'
body = b'{"jsonrpc":"2.0","id":1,"method":"getinfo"}'
cl = b'Content-Length: %d\r\n' % len(body)
heads = {
    'post-auth': b'POST / HTTP/1.1\r\nHost: 127.0.0.1:18645\r\n' + auth +
        b'Content-Type: application/json\r\n' + cl + b'\r\n' + body,
    'post-noauth': b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n' + cl + b'\r\n' + body,
    'health': b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    'metrics': b'GET /metrics?x=1 HTTP/1.1\r\n' + auth + b'Accept: text/plain\r\n\r\n',
    'events': b'GET /events?topics=block,tx HTTP/1.1\r\n' + auth +
        b'Accept: text/event-stream\r\nLast-Event-ID: 41:3\r\n\r\n',
    'chunked': b'POST / HTTP/1.1\r\n' + auth + b'Transfer-Encoding: chunked\r\n\r\n' +
        b'%x\r\n' % len(body) + body + b'\r\n0\r\n\r\n',
    'lf-only': b'POST / HTTP/1.1\nhost: x\nauthorization:\tBasic dTpw \ncontent-length: 0\n\n',
    'folded': b'POST / HTTP/1.0\r\nX-Long: a\r\n Content-Length: 9\r\n\tb\r\n' + auth +
        b'CONTENT-LENGTH : 4\r\n' + cl + b'\r\n' + body,
    'pipelined': b'GET /health HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n',
}
for name, data in heads.items():
    put('fuzz_httphead', name, data)
PY

for dir in "$work/raw"/*; do
    t=$(basename "$dir")
    case $only in "  " | *" $t "*) ;; *) continue ;; esac
    rm -rf "$src/tests/fuzz/corpus/$t"
    mkdir -p "$src/tests/fuzz/corpus/$t"
    "$build/tests/fuzz/$t" -merge=1 "$src/tests/fuzz/corpus/$t" "$dir" >"$work/merge.log" 2>&1 ||
        { tail -20 "$work/merge.log"; exit 1; }
    echo "$t: $(ls "$src/tests/fuzz/corpus/$t" | wc -l) seeds"
done
