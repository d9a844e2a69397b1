#!/bin/sh
# make install, checked: `make install DESTDIR=...` into a temporary tree puts every file an
# operations team expects where the prefix says (sbxd, sbx-cli, sbx-bench, sbx-rpcauth, the man
# pages, the docs, the example configuration, the systemd unit); `man -l` renders each page
# without a warning, and each page names what the code has (every option of `sbxd -help` and
# `sbx-cli -help`, every RPC method); `systemd-analyze verify` accepts the unit pointed at the
# installed sbxd. Run by `make check` from the build directory.
#
# man and systemd-analyze come from the Debian packages man-db and systemd (contrib/quickstart
# test installs them). Without them the test is skipped (status 77), except in CI (CI=true),
# where that is a failure.
set -eu

fail() {
    echo "check_install: $*" >&2
    exit 1
}

for tool in man systemd-analyze; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        [ "${CI:-}" = true ] && fail "CI: $tool is missing (contrib/quickstart test installs it)"
        echo "check_install: $tool missing, skipped (install man-db and systemd)"
        exit 77
    fi
done

builddir=${SBX_BUILDDIR:-$PWD}
cd "$builddir"
dest=$(mktemp -d "${TMPDIR:-/tmp}/sbx-install.XXXXXX")
trap 'chmod -R u+w "$dest" 2>/dev/null; rm -rf "$dest"' EXIT INT TERM

# Not the make that runs this test's jobserver: a make of its own.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install DESTDIR="$dest" >"$dest.log" 2>&1 ||
    { cat "$dest.log"; rm -f "$dest.log"; fail "make install DESTDIR=$dest failed"; }
rm -f "$dest.log"
dirs=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s print-installdirs)
bindir=$dest$(echo "$dirs" | sed -n 's/^bindir=//p')
mandir=$dest$(echo "$dirs" | sed -n 's/^mandir=//p')
docdir=$dest$(echo "$dirs" | sed -n 's/^docdir=//p')
[ "$bindir" != "$dest" ] && [ "$mandir" != "$dest" ] && [ "$docdir" != "$dest" ] ||
    fail "make print-installdirs gave no directories"

for f in sbxd sbx-cli sbx-bench sbx-rpcauth; do
    [ -x "$bindir/$f" ] || fail "$bindir/$f: not installed or not executable"
done
for f in rpcauth bench_ledger mangen; do
    [ ! -e "$bindir/$f" ] || fail "$bindir/$f: installed under a name that is not sbx's"
done
for f in man1/sbxd.1 man1/sbx-cli.1 man5/sbx.conf.5; do
    [ -s "$mandir/$f" ] || fail "$mandir/$f: not installed"
done
for f in LICENSE SECURITY.md README.md operations.md rpc.md compliance.md protocol.md \
    examples/sbx.conf.example init/sbxd.service init/README.md; do
    [ -s "$docdir/$f" ] || fail "$docdir/$f: not installed"
done
grep -q '^MIT License' "$docdir/LICENSE" || fail "LICENSE: not the MIT licence"
line=$("$bindir/sbx-rpcauth" alice operator secret | head -n 1)
echo "$line" | grep -q '^rpcauth=alice:[0-9a-f]*\$[0-9a-f]*:operator$' ||
    fail "sbx-rpcauth does not make an rpcauth line: $line"

# Each page renders, with groff's warnings on and none given.
for page in "$mandir/man1/sbxd.1" "$mandir/man1/sbx-cli.1" "$mandir/man5/sbx.conf.5"; do
    name=$(basename "$page")
    LC_ALL=C.UTF-8 MANWIDTH=100 MANPAGER=cat man --warnings -l "$page" >"$dest/$name.txt" \
        2>"$dest/$name.err" || fail "man -l $name failed: $(cat "$dest/$name.err")"
    [ ! -s "$dest/$name.err" ] || fail "man -l $name warns: $(cat "$dest/$name.err")"
    grep -q '^NAME' "$dest/$name.txt" && grep -q '^SEE ALSO' "$dest/$name.txt" ||
        fail "man -l $name: no NAME or SEE ALSO section"
done

# The pages name what the code has: every option of the programs' -help (sbxd's pages are
# made from its option table; sbx-cli's options are written by hand) and every method.
options_of() {
    "$1" -help | sed -n 's/^  -\([a-z][a-z0-9]*\).*/\1/p'
}
opts=$(options_of "$bindir/sbxd")
[ -n "$opts" ] || fail "sbxd -help lists no option"
for o in $opts; do
    grep -q -- "-$o\\b" "$dest/sbxd.1.txt" || fail "sbxd.1 does not describe -$o"
done
grep -q -- "^ *pid = FILE" "$dest/sbx.conf.5.txt" || fail "sbx.conf.5 does not describe pid"
! grep -q -- "^ *conf = " "$dest/sbx.conf.5.txt" || fail "sbx.conf.5 lists the command-line -conf"
# The example configuration shows every option a file may set (those sbx.conf.5 lists).
for o in $(sed -n 's/^ *\([a-z][a-z0-9]*\) = [A-Z0-9].*/\1/p' "$dest/sbx.conf.5.txt"); do
    grep -q "^#\{0,1\}$o = " "$docdir/examples/sbx.conf.example" ||
        fail "sbx.conf.example does not show $o"
done
opts=$(options_of "$bindir/sbx-cli")
[ -n "$opts" ] || fail "sbx-cli -help lists no option"
for o in $opts; do
    grep -q -- "-$o\\b" "$dest/sbx-cli.1.txt" ||
        fail "sbx-cli.1 does not describe -$o (add it to doc/man/sbx-cli.1.in)"
done
for m in getinfo submittrade checktrade getblock gettxproof getlicence verifychain stop; do
    grep -q "^ *$m\\b" "$dest/sbx-cli.1.txt" || fail "sbx-cli.1 does not list the method $m"
done

# The unit, pointed at the installed sbxd, with its man: links checked against the installed
# pages.
sed "s|^ExecStart=/usr/local/bin/sbxd |ExecStart=$bindir/sbxd |" "$docdir/init/sbxd.service" \
    >"$dest/sbxd.service"
grep -q "^ExecStart=$bindir/sbxd " "$dest/sbxd.service" ||
    fail "sbxd.service: ExecStart is not /usr/local/bin/sbxd"
for key in 'User=sbx' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/sbxd' \
    'NoNewPrivileges=yes' 'Restart=on-failure'; do
    grep -q "^$key\$" "$dest/sbxd.service" || fail "sbxd.service: no $key"
done
MANPATH=$mandir systemd-analyze verify "$dest/sbxd.service" >"$dest/verify.out" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$dest/verify.out")"
[ ! -s "$dest/verify.out" ] || fail "systemd-analyze verify warns: $(cat "$dest/verify.out")"
echo "check_install: installed, 3 man pages render, the unit verifies"
