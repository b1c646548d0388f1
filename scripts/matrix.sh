#!/bin/sh
# The version matrix: build warning-free and run the whole spec suite under
# every Lua the module supports, then install the release rock with LuaRocks
# (offline, every Lua) into a scratch tree and load it from there.
#
#   sh scripts/matrix.sh                 5.1 5.2 5.3 5.4 jit, then LuaRocks,
#                                        then scripts/check-build.sh
#   sh scripts/matrix.sh 5.1 jit         only these versions (no LuaRocks,
#                                        no build check)
#   MATRIX_ROCKS=0 sh scripts/matrix.sh  skip the LuaRocks installs
#   MATRIX_ROCKS=1 MATRIX_ROCK_VERSIONS="5.4 jit" sh scripts/matrix.sh none
#                                        only the rock installs, for these Luas
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
rock_versions=${MATRIX_ROCK_VERSIONS:-"5.1 5.2 5.3 5.4 jit"}
rocks=${MATRIX_ROCKS:-1}
build_check=${MATRIX_BUILD:-1}
[ $# -gt 0 ] && rocks=${MATRIX_ROCKS:-0} && build_check=${MATRIX_BUILD:-0}
[ "$versions" = none ] && versions=""

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

# The release rock, installed as a user would: `luarocks make` of the
# release rockspec into a fresh tree, offline (--deps-mode=none), for every
# Lua (LuaJIT through the 5.1 ABI with its own interpreter and headers).
# Then, from a directory outside the checkout and with only the paths
# `luarocks path --tree` gives, the module must load from that tree, its
# _VERSION must be the rockspec's, and the tree's bin/bulksync must answer
# --help. LuaRocks builds in the source directory: each Lua gets a copy, so
# the working tree's bulksync/core.so and objects are left alone.
release_rockspec=$(ls bulksync-[0-9]*-[0-9]*.rockspec 2>/dev/null | sort -V | tail -n 1)

install_rock() {
  v=$1 tree="$work/tree-$1" src="$work/src-$1"
  interp=$(interpreter "$v")
  abi=$v; [ "$v" = jit ] && abi=5.1
  echo "== LuaRocks, $release_rockspec, Lua $v ($interp)"
  mkdir -p "$src"
  (tar cf - --exclude=.git --exclude=./build --exclude='*.o' --exclude='*.so' . | tar xf - -C "$src") \
    || { fail "rock-copy-$v"; return; }
  spec=$release_rockspec
  # LuaJIT: a config of its own names its interpreter and headers; the
  # 5.1 config would build and wrap commands for lua5.1.
  config=""
  if [ "$v" = jit ]; then
    config="$work/luarocks-jit.lua"
    incdir=$(pkg-config --cflags-only-I luajit 2>/dev/null | sed -e 's/^ *-I//' -e 's/ .*//')
    cat >"$config" <<CONFIG
rocks_trees = { "$tree" }
lua_interpreter = "luajit"
variables = {
  LUA_DIR = "/usr", LUA_BINDIR = "$(dirname "$(command -v luajit)")",
  LUA_INCDIR = "${incdir:-/usr/include/luajit-2.1}",
}
CONFIG
  fi
  rocks() { env ${config:+LUAROCKS_CONFIG="$config"} luarocks --lua-version="$abi" --tree="$tree" "$@"; }
  if ! (cd "$src" && rocks make --deps-mode=none "$spec") >"$work/rock-$v.log" 2>&1; then
    sed 's/^/   /' "$work/rock-$v.log" | tail -40
    echo "   LuaRocks $v: install failed"; fail "rock-$v"
    summary="$summary
LuaRocks $v: install failed"
    return
  fi
  paths=$(rocks path) || { echo "   luarocks path failed"; fail "rock-path-$v"; return; }
  want=$(echo "$release_rockspec" | sed -E 's/^bulksync-(.*)-[0-9]+\.rockspec$/\1/')
  # A directory of its own, so nothing of the checkout can stand in.
  mkdir -p "$work/run-$v"
  if (cd "$work/run-$v" && eval "$paths" && "$interp" -e "
      local tree, want = '$tree', '$want'
      local b = require 'bulksync'
      local core = require 'bulksync.core'
      local from = debug.getinfo(b.new, 'S').source
      assert(from:sub(1, #tree + 1) == '@' .. tree, 'bulksync came from ' .. from .. ', not the tree')
      assert(b._VERSION == want, 'bulksync._VERSION is ' .. tostring(b._VERSION) .. ', the rockspec says ' .. want)
      assert(require 'bulksync.plan' and require 'bulksync.ngx' and require 'bulksync.many')
      assert(require 'bulksync.cli' and require 'bulksync.plan_render')
      -- The stand-in is installed under bulksync.standin; it runs on 5.3+
      -- with luasocket and lua-cjson, where its modules must load as such.
      local modern = not rawget(_G, 'jit') and _VERSION >= 'Lua 5.3'
      if modern and pcall(require, 'socket') and pcall(require, 'cjson') then
        assert(require('bulksync.standin.serve').run, 'bulksync.standin.serve has no run')
      end
      local json = b.encode({ name = 'n', mode = 'replicate',
        source_connection_id = 'a1c0ffee-0000-4000-8000-000000000001',
        destination_connection_id = 'a1c0ffee-0000-4000-8000-000000000002',
        destination_configuration = { schema = 's' },
        default_schedule = { frequency = 'daily' } })
      assert(b.decode(json).name == 'n', 'round trip failed')
      local c = b.new { api_key = 'k', base_url = 'http://127.0.0.1:9' }
      assert(c.transport.name == 'curl', 'outside OpenResty the transport is curl')
      c:close()
      print('   loaded bulksync ' .. b._VERSION .. ' from the tree (' .. (rawget(_G, 'jit') and jit.version or _VERSION)
        .. ', HAVE_INTEGER=' .. tostring(core.HAVE_INTEGER) .. ')')
    ") 2>"$work/load-$v.log"; then
    line="LuaRocks $v: installed, loaded $want from the tree"
  else
    sed 's/^/   /' "$work/load-$v.log"
    echo "   LuaRocks $v: installed, but loading it failed"; fail "rock-load-$v"
    summary="$summary
LuaRocks $v: load failed"
    return
  fi
  if [ ! -x "$tree/bin/bulksync" ]; then
    echo "   $tree/bin/bulksync was not installed"; fail "rock-bin-$v"
    line="$line; bin/bulksync missing"
  elif ! grep -q "/$interp'" "$tree/bin/bulksync"; then
    echo "   $tree/bin/bulksync does not run $interp:"; sed 's/^/   /' "$tree/bin/bulksync"
    fail "rock-bin-$v"; line="$line; bin/bulksync runs another Lua"
  elif (cd "$work/run-$v" && eval "$paths" && "$tree/bin/bulksync" --help) >"$work/bin-$v.log" 2>&1; then
    line="$line; bin/bulksync --help works"
  else
    sed 's/^/   /' "$work/bin-$v.log" | tail -20
    echo "   $tree/bin/bulksync --help failed"; fail "rock-bin-$v"
    line="$line; bin/bulksync --help failed"
  fi
  echo "   $line"
  summary="$summary
$line"
}

if [ "$rocks" = 1 ]; then
  if ! command -v luarocks >/dev/null 2>&1; then
    echo "== LuaRocks is not installed (Debian package: luarocks)"; fail "luarocks"
  elif [ -z "$release_rockspec" ]; then
    echo "== no release rockspec (bulksync-X.Y.Z-N.rockspec)"; fail "rockspec"
  else
    echo "== luarocks lint"
    for r in bulksync-*.rockspec; do
      if luarocks lint "$r" >"$work/lint.log" 2>&1; then
        echo "   $r: clean"
      else
        sed 's/^/   /' "$work/lint.log"; fail "lint-$r"
      fi
    done
    for v in $rock_versions; do
      if command -v "$(interpreter "$v")" >/dev/null 2>&1; then install_rock "$v"
      else echo "== LuaRocks, Lua $v: $(interpreter "$v") is not installed"; fail "rock-missing-$v"; fi
    done
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
