#!/bin/sh
# make bench: build what the benchmark needs, start the nginx stub on
# 127.0.0.1, run every row, print one table, stop the stub (also on failure).
#
#   sh bench/run.sh              the whole table
#   BENCH_QUICK=1 sh bench/run.sh  fewer iterations, for trying the harness
#   BENCH_ROWS="1 2" sh bench/run.sh  only some rows
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
LUA=${LUA:-lua5.4}
OUT=$ROOT/bench/out
mkdir -p "$OUT"

make -s all >/dev/null

# Row 3's floor: plain libcurl, built here so it matches the local libcurl.
CC=${CC:-cc}
if [ ! -x "$OUT/floor" ] || [ bench/floor.c -nt "$OUT/floor" ]; then
  # shellcheck disable=SC2046
  $CC -std=c99 -O2 -o "$OUT/floor" bench/floor.c $(pkg-config --cflags --libs libcurl 2>/dev/null || echo -lcurl)
fi

# Row 4's TypeScript SDK, at the version the lock file pins.
TS_READY=0
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -d bench/ts/node_modules/polytomic ]; then
    (cd bench/ts && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || true
  fi
  [ -d bench/ts/node_modules/polytomic ] && TS_READY=1
fi

# The stub: three ports (immediate answer, counted connections, 20 ms delay).
MODDIR=""
for d in /usr/lib/nginx/modules /usr/share/nginx/modules /usr/lib64/nginx/modules; do
  [ -f "$d/ngx_http_lua_module.so" ] && { MODDIR=$d; break; }
done
MODULES=""
if [ -n "$MODDIR" ]; then
  [ -f "$MODDIR/ndk_http_module.so" ] && MODULES="load_module $MODDIR/ndk_http_module.so;"
  MODULES="$MODULES load_module $MODDIR/ngx_http_lua_module.so;"
fi
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

set -- $("$LUA" -e '
  local socket = require "socket"
  local ports, keep = {}, {}
  for i = 1, 3 do
    local s = assert(socket.bind("127.0.0.1", 0))
    keep[i] = s
    ports[i] = select(2, s:getsockname())
  end
  for _, s in ipairs(keep) do s:close() end
  print(table.concat(ports, " "))')
PORT_FAST=$1 PORT_COUNT=$2 PORT_SLOW=$3

STUB=$OUT/stub
rm -rf "$STUB"
mkdir -p "$STUB"
# The fixed answer: a real update response; the stub config is generated
# from it, so no JSON lives in two places.
RESPONSE=$("$LUA" -e 'package.path = "bench/lua/?.lua;" .. package.path
  local b = require "bodies"
  local s = b.json(b.response_2024())
  local bad = s:find("$", 1, true) or s:find("\\", 1, true) or s:find(string.char(39), 1, true)
    or s:find("]=]", 1, true)
  assert(not bad, "the response holds a character the nginx config cannot quote")
  io.write(s)')
sed -e "s#@PREFIX@#$STUB#g" -e "s#@MODULES@#$MODULES#" \
    -e "s#@PORT_FAST@#$PORT_FAST#" -e "s#@PORT_COUNT@#$PORT_COUNT#" -e "s#@PORT_SLOW@#$PORT_SLOW#" \
    bench/nginx/stub.conf.in > "$STUB/stub.conf.tmp"
# The JSON goes in with awk's index(), not a regex: it may hold regex specials.
RESPONSE="$RESPONSE" awk '{
  line = $0; out = ""
  while ((i = index(line, "@RESPONSE@")) > 0) {
    out = out substr(line, 1, i - 1) ENVIRON["RESPONSE"]; line = substr(line, i + 10)
  }
  print out line }' "$STUB/stub.conf.tmp" > "$STUB/stub.conf"

stop_stub() {
  if [ -f "$STUB/nginx.pid" ]; then
    kill -QUIT "$(cat "$STUB/nginx.pid")" 2>/dev/null || true
    i=0
    while [ -f "$STUB/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
}
trap stop_stub EXIT
trap 'exit 130' INT TERM

"$NGINX" -p "$STUB" -c "$STUB/stub.conf" -e "$STUB/error.log" -q || {
  echo "bench: nginx did not start:" >&2; cat "$STUB/error.log" >&2; exit 1; }

NGINX=$NGINX LUA=$LUA BENCH_OUT=$OUT BENCH_STUB=$STUB BENCH_FLOOR=$OUT/floor BENCH_TS=$TS_READY \
PORT_FAST=$PORT_FAST PORT_COUNT=$PORT_COUNT PORT_SLOW=$PORT_SLOW \
  "$LUA" bench/run.lua
