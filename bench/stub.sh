# shellcheck shell=sh
# The benchmark's stub server, sourced by bench/run.sh and bench/profile.sh
# (run from the project root, with LUA and OUT set):
#   stub_start   writes $OUT/stub/stub.conf from bench/nginx/stub.conf.in and
#                starts nginx on three free ports of 127.0.0.1:
#                PORT_FAST (answers at once), PORT_COUNT (logs each request's
#                connection), PORT_SLOW (answers after 20 ms); exports them
#   stub_stop    stops that nginx (and only it, by its pid file)

STUB=$OUT/stub
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}

# Client and stub share one CPU: a loopback round trip then costs two
# context switches, the same every run, instead of a cross-CPU wake-up whose
# cost depends on where the scheduler happens to put a fresh process.
# BENCH_PIN=0 turns it off. Sets STUB_PIN and CLIENT_PIN (command prefixes).
STUB_PIN="" CLIENT_PIN="" PIN_NOTE="not pinned"
if [ "${BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1; then
  cpu=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2>/dev/null |
    tr ',' '\n' | awk -F- 'NF >= 1 { last = $NF } END { print last }')
  if [ -n "$cpu" ]; then
    # shellcheck disable=SC2034  # CLIENT_PIN is for the script that sources this
    STUB_PIN="taskset -c $cpu" CLIENT_PIN="taskset -c $cpu"
    PIN_NOTE="clients and stub share CPU $cpu"
  fi
fi
export PIN_NOTE

stub_start() {
  # Debian installs the Lua module as a dynamic module; row 6's delay needs it.
  modules=""
  for d in /usr/lib/nginx/modules /usr/share/nginx/modules /usr/lib64/nginx/modules; do
    if [ -f "$d/ngx_http_lua_module.so" ]; then
      [ -f "$d/ndk_http_module.so" ] && modules="load_module $d/ndk_http_module.so;"
      modules="$modules load_module $d/ngx_http_lua_module.so;"
      break
    fi
  done

  # shellcheck disable=SC2046
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
  export PORT_FAST PORT_COUNT PORT_SLOW STUB NGINX_BIN

  rm -rf "$STUB"
  mkdir -p "$STUB"
  # The fixed answer is a real update response, made from the bench's data.
  response=$("$LUA" -e 'package.path = "bench/lua/?.lua;" .. package.path
    local b = require "bodies"
    local s = b.json(b.response_2024())
    local bad = s:find("$", 1, true) or s:find("\\", 1, true) or s:find(string.char(39), 1, true)
      or s:find("]=]", 1, true)
    assert(not bad, "the response holds a character the nginx config cannot quote")
    io.write(s)')
  sed -e "s#@PREFIX@#$STUB#g" -e "s#@MODULES@#$modules#" \
      -e "s#@PORT_FAST@#$PORT_FAST#" -e "s#@PORT_COUNT@#$PORT_COUNT#" -e "s#@PORT_SLOW@#$PORT_SLOW#" \
      bench/nginx/stub.conf.in > "$STUB/stub.conf.tmp"
  # The JSON goes in with awk's index(), not a regex: it may hold regex specials.
  RESPONSE="$response" awk '{
    line = $0; out = ""
    while ((i = index(line, "@RESPONSE@")) > 0) {
      out = out substr(line, 1, i - 1) ENVIRON["RESPONSE"]; line = substr(line, i + 10)
    }
    print out line }' "$STUB/stub.conf.tmp" > "$STUB/stub.conf"

  $STUB_PIN "$NGINX_BIN" -p "$STUB" -c "$STUB/stub.conf" -e "$STUB/error.log" -q || {
    echo "bench: nginx did not start:" >&2; cat "$STUB/error.log" >&2; return 1; }
}

stub_stop() {
  if [ -f "$STUB/nginx.pid" ]; then
    kill -QUIT "$(cat "$STUB/nginx.pid")" 2>/dev/null || true
    i=0
    while [ -f "$STUB/nginx.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
}
