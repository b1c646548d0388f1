#!/bin/sh
# make check: the checks that need no server, in about ten seconds.
#   1. luacheck over every Lua file (.luacheckrc), no warnings
#   2. cppcheck --enable=warning over the C (inline suppressions give a reason)
#   3. the C compiled with -Werror -Wall -Wextra -pedantic by gcc and by clang
set -u
cd "$(dirname "$0")/.."
LUA_VERSION=${LUA_VERSION:-5.4}
failed=""

step() { name=$1; shift; echo "== $name"; "$@" || failed="$failed $name"; }

step luacheck luacheck -q .

incdir=$(pkg-config --cflags-only-I "lua$LUA_VERSION" 2>/dev/null)
# shellcheck disable=SC2086
step cppcheck cppcheck --enable=warning --error-exitcode=1 --quiet --std=c99 --inline-suppr \
  --suppress=missingIncludeSystem --suppress=toomanyconfigs -I src $incdir lua_bulksync.c src/*.c

compile() {
  cc=$1
  command -v "$cc" >/dev/null 2>&1 || { echo "   $cc is not installed"; return 1; }
  for f in lua_bulksync.c src/*.c; do
    # shellcheck disable=SC2086
    "$cc" -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -Isrc $incdir \
      $(pkg-config --cflags libcurl 2>/dev/null) "$f" || return 1
  done
}
step gcc compile gcc
step clang compile clang

if [ -n "$failed" ]; then echo "check: failed:$failed"; exit 1; fi
echo "check: luacheck, cppcheck, gcc and clang clean"
