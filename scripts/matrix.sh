#!/bin/sh
# The version matrix: build warning-free and run the whole spec suite under
# every Lua the module supports, then install it with LuaRocks (offline,
# Lua 5.1 and 5.4) into a scratch tree and load it from there.
#
#   sh scripts/matrix.sh                 5.1 5.2 5.3 5.4 jit, then LuaRocks,
#                                        then scripts/check-build.sh
#   sh scripts/matrix.sh 5.1 jit         only these versions (no LuaRocks,
#                                        no build check)
#   MATRIX_ROCKS=0 sh scripts/matrix.sh  skip the LuaRocks installs
#   MATRIX_BUILD=0 sh scripts/matrix.sh  skip the check that make follows
#                                        LUA_VERSION
#
# Prints one line per Lua ("Lua 5.1 (lua5.1): N passed, N failed, N skipped")
# and ends with "matrix: N passed, N failed" over everything. Exit status 0
# only when every build, spec and install worked. Leaves bulksync/core.so
# built for Lua 5.4, as `make` would.
set -u
cd "$(dirname "$0")/.."
repo=$(pwd)

versions=${*:-"5.1 5.2 5.3 5.4 jit"}
rocks=${MATRIX_ROCKS:-1}
build_check=${MATRIX_BUILD:-1}
[ $# -gt 0 ] && rocks=${MATRIX_ROCKS:-0} && build_check=${MATRIX_BUILD:-0}

work=$(mktemp -d "${TMPDIR:-/tmp}/bulksync-matrix.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

busted_bin=$(command -v busted || echo /usr/bin/busted)
passed=0 failed=0 failures=""
summary=""

fail() { failures="$failures $1"; }

interpreter() {
  case $1 in jit) echo luajit ;; *) echo "lua$1" ;; esac
}

# The modules the specs load besides ours; say which Debian package is
# missing rather than failing somewhere inside busted.
check_deps() {
  interp=$1 ok=0
  for mod in busted.runner cjson socket; do
    if ! "$interp" -e "require '$mod'" >/dev/null 2>&1; then
      case $mod in busted.runner) pkg=lua-busted ;; cjson) pkg=lua-cjson ;; socket) pkg=lua-socket ;; esac
      echo "   $interp cannot load '$mod' (Debian package: $pkg)"
      ok=1
    fi
  done
  return $ok
}

for v in $versions; do
  interp=$(interpreter "$v")
  out="$work/specs-$v.tap"
  echo "== Lua $v ($interp)"
  if ! command -v "$interp" >/dev/null 2>&1; then
    echo "   $interp is not installed"; fail "missing-$v"; continue
  fi
  check_deps "$interp" || { fail "deps-$v"; continue; }
  # -B: recompile with -Werror even when build/$v/core.so is up to date.
  if ! make -s -B all LUA_VERSION="$v" CFLAGS="-O2 -g -Werror" >"$work/build-$v.log" 2>&1; then
    sed 's/^/   /' "$work/build-$v.log" | head -60
    echo "   Lua $v: build failed"
    summary="$summary
Lua $v ($interp): build failed"
    fail "build-$v"; continue
  fi
  "$interp" "$busted_bin" -o TAP spec >"$out" 2>&1
  status=$?
  ok=$(grep -c '^ok ' "$out")
  skipped=$(grep -c '^ok .*# *[Ss][Kk][Ii][Pp]' "$out")
  bad=$(grep -c '^not ok ' "$out")
  ok=$((ok - skipped))
  # Failing specs with their diagnostics (TAP puts them on "#" lines).
  awk '/^not ok /{show=1; print "   " $0; next} /^(ok|not ok) /{show=0} show && /^#/{print "   " $0}' "$out" | head -200
  if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
    # busted died before running anything: show why.
    sed 's/^/   /' "$out" | head -40
  fi
  line="Lua $v ($interp): $ok passed, $bad failed, $skipped skipped"
  echo "   $line"
  summary="$summary
$line"
  passed=$((passed + ok)); failed=$((failed + bad))
  if [ "$status" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$ok" -eq 0 ]; then fail "specs-$v"; fi
done

# LuaRocks builds in the source directory: use a copy so the working tree's
# bulksync/core.so and objects are left alone.
install_rock() {
  v=$1 interp=lua$1 tree="$work/tree-$1" src="$work/src-$1"
  echo "== LuaRocks, Lua $v"
  mkdir -p "$src"
  (tar cf - --exclude=.git --exclude='*.o' --exclude='*.so' . | tar xf - -C "$src") || { fail "rock-copy-$v"; return; }
  if ! (cd "$src" && luarocks --lua-version="$v" --tree="$tree" make --deps-mode=none bulksync-scm-1.rockspec) \
      >"$work/rock-$v.log" 2>&1; then
    sed 's/^/   /' "$work/rock-$v.log" | tail -40
    echo "   LuaRocks $v: install failed"; fail "rock-$v"
    summary="$summary
LuaRocks $v: install failed"
    return
  fi
  # Load it from the tree only (not from the repository), and use it.
  if (cd "$work" && "$interp" -e "
      package.path = '$tree/share/lua/$v/?.lua;$tree/share/lua/$v/?/init.lua;' .. package.path
      package.cpath = '$tree/lib/lua/$v/?.so;' .. package.cpath
      local b = require 'bulksync'
      local core = require 'bulksync.core'
      assert(require 'bulksync.plan' and require 'bulksync.ngx')
      local json = b.encode({ name = 'n', mode = 'replicate',
        source_connection_id = 'a1c0ffee-0000-4000-8000-000000000001',
        destination_connection_id = 'a1c0ffee-0000-4000-8000-000000000002',
        destination_configuration = { schema = 's' },
        default_schedule = { frequency = 'daily' } })
      assert(b.decode(json).name == 'n', 'round trip failed')
      local c = b.new { api_key = 'k', base_url = 'http://127.0.0.1:9' }
      assert(c.transport.name == 'curl', 'outside OpenResty the transport is curl')
      c:close()
      print('   loaded bulksync ' .. b._VERSION .. ' from the tree (' .. _VERSION .. ', HAVE_INTEGER=' .. tostring(core.HAVE_INTEGER) .. ')')
    ") 2>"$work/load-$v.log"; then
    echo "   LuaRocks $v: installed and loaded"
    summary="$summary
LuaRocks $v: installed and loaded"
  else
    sed 's/^/   /' "$work/load-$v.log"
    echo "   LuaRocks $v: installed, but loading it failed"; fail "rock-load-$v"
    summary="$summary
LuaRocks $v: load failed"
  fi
}

if [ "$rocks" = 1 ]; then
  if command -v luarocks >/dev/null 2>&1; then
    for v in 5.1 5.4; do install_rock "$v"; done
  else
    echo "== LuaRocks is not installed (Debian package: luarocks)"; fail "luarocks"
  fi
fi

if [ "$build_check" = 1 ]; then
  if sh scripts/check-build.sh; then
    summary="$summary
make LUA_VERSION=5.4/jit, make install LUA_VERSION=5.1: each for its Lua"
  else
    fail "build-follows-version"
    summary="$summary
make LUA_VERSION=...: a command built for the wrong Lua"
  fi
fi

make -s all >/dev/null 2>&1 || fail "rebuild-5.4"

echo "== summary$summary"
[ -n "$failures" ] && echo "failed stages:$failures"
echo "matrix: $passed passed, $failed failed"
[ -z "$failures" ] && [ "$failed" -eq 0 ]
