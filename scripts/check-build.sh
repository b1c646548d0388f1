#!/bin/sh
# The build follows LUA_VERSION: every make command gives the module for the
# Lua it names, whatever an earlier command built. In a scratch copy of the
# tree (the working tree's build/ and bulksync/core.so stay untouched):
#   1. make LUA_VERSION=5.4                       lua5.4 loads bulksync
#   2. make LUA_VERSION=jit                       luajit loads bulksync
#   3. make install LUA_VERSION=5.1 DESTDIR=...   lua5.1 loads the installed copy
#   4. make LUA_VERSION=5.4 again                 a copy, not a recompile
# Run by scripts/matrix.sh; exit status 0 only when every step worked.
set -u
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/bulksync-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
src="$work/src"
mkdir -p "$src"
tar cf - --exclude=.git --exclude=./build --exclude='*.o' --exclude='*.so' . | tar xf - -C "$src" || exit 1

failures=""
fail() { echo "   FAIL $1"; failures="$failures $1"; }

# loads INTERP LPATH CPATH: the interpreter loads bulksync from exactly these
# paths (run outside the tree so ./?.so cannot stand in) and encodes a body.
loads() {
  (cd "$work" && "$1" -e "
    package.path = '$2'
    package.cpath = '$3'
    local b = require 'bulksync'
    local core = require 'bulksync.core'
    local json = assert(core.encode_value({ n = 1 }))
    assert(b.decode(json).n == 1, json)
    print(_VERSION .. ' loaded bulksync.core from ' .. package.cpath)
  " 2>&1)
}

step() {
  name=$1; shift
  if ! (cd "$src" && "$@") >"$work/make.log" 2>&1; then
    sed 's/^/   /' "$work/make.log" | tail -30
    fail "$name"; return 1
  fi
}

tree_lpath="$src/?.lua"
tree_cpath="$src/?.so"

echo "== make follows LUA_VERSION"
if step "make LUA_VERSION=5.4" make LUA_VERSION=5.4; then
  out=$(loads lua5.4 "$tree_lpath" "$tree_cpath") && echo "   make LUA_VERSION=5.4: $out" || { echo "   $out"; fail "5.4 load"; }
fi
if step "make LUA_VERSION=jit" make LUA_VERSION=jit; then
  out=$(loads luajit "$tree_lpath" "$tree_cpath") && echo "   make LUA_VERSION=jit: $out" || { echo "   $out"; fail "jit load"; }
fi
dest="$work/dest"
if step "make install LUA_VERSION=5.1" make install LUA_VERSION=5.1 DESTDIR="$dest" PREFIX=/usr; then
  out=$(loads lua5.1 "$dest/usr/share/lua/5.1/?.lua" "$dest/usr/lib/lua/5.1/?.so") &&
    echo "   make install LUA_VERSION=5.1: $out" || { echo "   $out"; fail "5.1 installed load"; }
fi
# Back to 5.4: build/5.4/core.so is reused as it is.
before=$(ls -l --time-style=+%s.%N "$src/build/5.4/core.so" 2>/dev/null)
if step "make LUA_VERSION=5.4 (again)" make LUA_VERSION=5.4; then
  out=$(loads lua5.4 "$tree_lpath" "$tree_cpath") && echo "   make LUA_VERSION=5.4 again: $out" || { echo "   $out"; fail "5.4 load again"; }
  after=$(ls -l --time-style=+%s.%N "$src/build/5.4/core.so" 2>/dev/null)
  [ -n "$before" ] && [ "$before" = "$after" ] || fail "switching back to 5.4 recompiled it"
  [ "$(cat "$src/build/core.so.lua-version" 2>/dev/null)" = 5.4 ] || fail "build/core.so.lua-version does not say 5.4"
fi

if [ -n "$failures" ]; then
  echo "check-build: FAILED:$failures"
  exit 1
fi
echo "check-build: every make command built for the Lua it names"
