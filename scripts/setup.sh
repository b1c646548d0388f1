#!/bin/sh
# Installs the Debian/Ubuntu packages lua-bulksync needs, only those missing.
#   sh scripts/setup.sh            what the demo and the core specs need
#   sh scripts/setup.sh test       + everything the full test run uses
#   sh scripts/setup.sh bench      + the benchmark's tools
#   sh scripts/setup.sh docs       + ldoc, for `make docs` (the HTML reference)
set -eu

core="gcc libc6-dev make pkg-config perl lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted lua-socket luarocks"
# Every Lua the module supports, the OpenResty host, the memory and fuzz tools.
test_extra="lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luajit2 libluajit2-5.1-dev
  nginx libnginx-mod-http-lua valgrind clang libclang-rt-14-dev openssl ca-certificates locales lua-yaml
  lua-check cppcheck lua-ldoc lua-markdown"
docs_extra="lua5.1 lua-ldoc lua-markdown"
bench_extra="nginx libnginx-mod-http-lua curl nodejs npm time lua5.2 liblua5.2-dev lua-curl valgrind"

case "${1:-core}" in
  core)  wanted="$core" ;;
  test)  wanted="$core $test_extra" ;;
  bench) wanted="$core $bench_extra" ;;
  docs)  wanted="$core $docs_extra" ;;
  *) echo "usage: $0 [core|test|bench|docs]" >&2; exit 2 ;;
esac

missing=""
for pkg in $wanted; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
# node and npm may come from elsewhere than Debian: a working npm is enough.
case "$missing" in *npm*) if command -v npm >/dev/null 2>&1; then
  missing=$(echo "$missing" | sed -e 's/ nodejs//' -e 's/ npm//'); fi ;; esac

# The JSON spec proves numbers are written with '.' under a decimal-comma
# locale; it needs one such locale to exist.
need_locale() {
  [ "${1:-core}" = test ] && ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup: run as root: $*" >&2; return 1
  fi
}

if [ -z "$(echo "$missing" | tr -d ' ')" ]; then
  if need_locale "${1:-core}"; then as_root localedef -i de_DE -f UTF-8 de_DE.UTF-8 || true; fi
  exit 0
fi

echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
# shellcheck disable=SC2086
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
if need_locale "${1:-core}"; then as_root localedef -i de_DE -f UTF-8 de_DE.UTF-8 || true; fi
