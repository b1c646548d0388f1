#!/bin/sh
# make bench: build what the benchmark needs, start the nginx stub on
# 127.0.0.1, run every row, print one table, stop the stub (also on failure).
#
#   sh bench/run.sh                   the whole table
#   BENCH_QUICK=1 sh bench/run.sh     fewer iterations, for trying the harness
#   BENCH_ROWS="1 2" sh bench/run.sh  only some rows
#   BENCH_PIN=0 sh bench/run.sh       let the scheduler place client and stub
#   LUA_VERSION=5.1|5.2|5.3|jit       another Lua (lua-cjson and luasocket for it too)
#   BENCH_HAND_LUA_VERSION=5.1        row 8 (lua-curl, socket.http) on 5.1, not 5.2
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LUA_VERSION=${LUA_VERSION:-5.4}
LUA=${LUA:-lua$LUA_VERSION}
OUT=$ROOT/bench/out
# The module is built aside: a bulksync/core.so another run left for a
# different Lua must not be what the bench loads.
MODDIR=$OUT/lua$LUA_VERSION
mkdir -p "$MODDIR/bulksync"
make -s "$MODDIR/bulksync/core.so" MODULE="$MODDIR/bulksync/core.so" LUA_VERSION="$LUA_VERSION" >/dev/null
BENCH_CPATH="$MODDIR/?.so;"
export BENCH_CPATH LUA

# Row 8's hand-written clients exist for older Luas only (Debian's lua-curl:
# 5.1 and 5.2), so that row runs on one of those, with our module built for
# it too; without that Lua and its headers the row says it was skipped.
HAND_VERSION=${BENCH_HAND_LUA_VERSION:-5.2}
BENCH_HAND_LUA=lua$HAND_VERSION
HANDDIR=$OUT/lua$HAND_VERSION
BENCH_HAND_CPATH=""
if command -v "$BENCH_HAND_LUA" >/dev/null 2>&1 && mkdir -p "$HANDDIR/bulksync" &&
   make -s "$HANDDIR/bulksync/core.so" MODULE="$HANDDIR/bulksync/core.so" LUA_VERSION="$HAND_VERSION" >/dev/null; then
  BENCH_HAND_CPATH="$HANDDIR/?.so;"
fi
export BENCH_HAND_LUA BENCH_HAND_CPATH

# Row 3's floor: plain libcurl, built here so it matches the local libcurl.
CC=${CC:-cc}
# shellcheck disable=SC2046
$CC -std=c99 -O2 -o "$OUT/floor" bench/floor.c $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl)

# Row 4's TypeScript SDK, at the version the lock file pins.
TS_READY=0
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -d bench/ts/node_modules/polytomic ]; then
    (cd bench/ts && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || true
  fi
  [ -d bench/ts/node_modules/polytomic ] && TS_READY=1
fi

# The stub: nginx on three free 127.0.0.1 ports; stopped on any exit.
. bench/stub.sh
trap stub_stop EXIT
trap 'exit 130' INT TERM
stub_start

# Counted here: the pinned driver would see one CPU.
BENCH_NPROC=$(nproc 2>/dev/null || echo "?")
BENCH_OUT=$OUT BENCH_STUB=$STUB BENCH_FLOOR=$OUT/floor BENCH_TS=$TS_READY
export BENCH_NPROC BENCH_OUT BENCH_STUB BENCH_FLOOR BENCH_TS NGINX_BIN
$CLIENT_PIN "$LUA" bench/run.lua
