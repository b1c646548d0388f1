#!/bin/sh
# The demo: start the local stand-in API on a free loopback port, run
# examples/demo.lua against it, stop the server however the demo ends.
set -u
cd "$(dirname "$0")/.."
make -s all || exit 1

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lua5.4 standin/server.lua --port 0 --port-file "$tmp/port" --api-key demo-key --quiet &
server_pid=$!
i=0
while [ ! -s "$tmp/port" ]; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$server_pid" 2>/dev/null; then
    echo "demo: the stand-in server did not start" >&2; exit 1
  fi
  sleep 0.01
done

BULKSYNC_BASE_URL="http://127.0.0.1:$(cat "$tmp/port")" POLYTOMIC_API_KEY=demo-key \
  lua5.4 -e 'package.path = "./?.lua;" .. package.path; package.cpath = "./?.so;" .. package.cpath' \
  examples/demo.lua
