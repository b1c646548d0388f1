#!/bin/sh
# make check-memory: every spec under valgrind memcheck (the normal build)
# and under an AddressSanitizer + UndefinedBehaviorSanitizer build (clang).
#
#   sh scripts/check-memory.sh              both passes
#   sh scripts/check-memory.sh valgrind     one of them
#   sh scripts/check-memory.sh asan
#   SPECS="spec/faults_spec.lua spec/http_spec.lua" sh scripts/check-memory.sh
#
# A pass fails on any failing spec, any memcheck error, any definite leak,
# and any ASan, LeakSanitizer or UBSan report. busted closes the Lua state
# when it exits, so every finalizer has run by then: memory of ours still
# allocated at that point is a leak, not "still reachable".
# scripts/valgrind.supp may only hide noise from the interpreter, busted or
# luasocket, never from bulksync.
set -u
cd "$(dirname "$0")/.."

mode=${1:-all}
LUA=${LUA:-lua5.4}
LUA_PC=${LUA_PC:-lua5.4}
BUSTED=$(command -v busted) || { echo "check-memory: busted is not installed" >&2; exit 1; }
SPECS=${SPECS:-$(ls spec/*_spec.lua)}
# Spec servers run as plain interpreters, outside the checked process.
RAWSERVER_LUA=${RAWSERVER_LUA:-lua5.4}
BULKSYNC_SERVER_LUA=${BULKSYNC_SERVER_LUA:-lua5.4}
export RAWSERVER_LUA BULKSYNC_SERVER_LUA

work=$(mktemp -d "${TMPDIR:-/tmp}/bulksync-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
failures=""
note_failure() { failures="$failures $1"; }

# check_tap NAME FILE STATUS: the busted run itself passed.
check_tap() {
  name=$1 tap=$2 status=$3
  ok=$(grep -c '^ok ' "$tap")
  bad=$(grep -c '^not ok ' "$tap")
  if [ "$status" -ne 0 ] || [ "$bad" -ne 0 ] || ! grep -q '^1\.\.[0-9]' "$tap"; then
    echo "   FAIL $name (exit $status, $ok passed, $bad failed)"
    grep -E -A8 '^not ok' "$tap" | head -60
    tail -30 "$tap"
    return 1
  fi
  echo "   ok   $name ($ok passed)"
  return 0
}

# check_loads DIR PRELOAD: `require "bulksync.core"` with DIR first in the
# C path loads DIR/bulksync/core.so (what the specs get with --cpath).
check_loads() {
  loaded=$(LD_PRELOAD="$2" ASAN_OPTIONS=detect_leaks=0 "$LUA" -e "
    package.cpath = '$1/?.so;' .. package.cpath
    require 'bulksync.core'
    for l in io.lines('/proc/self/maps') do
      if l:find('bulksync/core.so', 1, true) then print((l:match('(%S+)$'))) break end
    end" 2>&1)
  if [ "$loaded" != "$1/bulksync/core.so" ]; then
    echo "check-memory: $1/bulksync/core.so does not load: $loaded" >&2
    return 1
  fi
}

run_valgrind() {
  command -v valgrind >/dev/null 2>&1 || { echo "check-memory: valgrind is not installed" >&2; note_failure valgrind; return; }
  echo "== valgrind memcheck, normal build"
  # Built aside, like the sanitized one: bulksync/core.so may be for another
  # Lua (the matrix leaves the last one it built) and stays untouched.
  plain="$work/plain"
  mkdir -p "$plain/bulksync"
  if ! make -s "$plain/bulksync/core.so" MODULE="$plain/bulksync/core.so" LUA_VERSION=5.4 \
      >"$work/build.log" 2>&1; then
    cat "$work/build.log"; note_failure valgrind-build; return
  fi
  check_loads "$plain" "" || { note_failure valgrind-load; return; }
  for spec in $SPECS; do
    name=$(basename "$spec" .lua)
    vlog="$work/vg-$name.log"
    # --error-exitcode turns memcheck errors and definite leaks into a
    # failure; possible leaks are the interpreter's interior pointers.
    valgrind --quiet --error-exitcode=99 --leak-check=full \
      --show-leak-kinds=definite --errors-for-leak-kinds=definite \
      --suppressions=scripts/valgrind.supp --num-callers=40 --keep-debuginfo=yes --log-file="$vlog" \
      "$LUA" "$BUSTED" --cpath="$plain/?.so" -o TAP "$spec" >"$work/vg-$name.tap" 2>&1
    status=$?
    if [ -s "$vlog" ]; then
      echo "   valgrind report for $name:"; head -120 "$vlog"
      [ "$status" -eq 0 ] && status=99
    fi
    check_tap "$name" "$work/vg-$name.tap" "$status" || note_failure "valgrind:$name"
  done
}

run_asan() {
  command -v clang >/dev/null 2>&1 || { echo "check-memory: clang is not installed" >&2; note_failure asan; return; }
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  runtime=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
  if [ ! -f "$runtime" ]; then
    echo "check-memory: no ASan runtime ($runtime): install libclang-rt-dev" >&2; note_failure asan; return
  fi
  dir="$work/asan"
  mkdir -p "$dir/bulksync"
  lua_inc=$(pkg-config --cflags-only-I "$LUA_PC" 2>/dev/null)
  curl_cflags=$(pkg-config --cflags libcurl 2>/dev/null)
  curl_libs=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
  # shellcheck disable=SC2086
  if ! clang -std=c99 -Wall -Wextra -pedantic -Werror -fPIC $lua_inc -Isrc $curl_cflags \
      -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
      -shared-libasan -shared -Wl,-z,nodelete -o "$dir/bulksync/core.so" \
      $(make -s sources) $curl_libs >"$work/asan-build.log" 2>&1; then
    cat "$work/asan-build.log"; note_failure asan-build; return
  fi
  # -z nodelete keeps the module mapped after lua_close unloads it, so a
  # leak report at exit can name our functions.
  # The interpreter is not sanitized, so the runtime is preloaded. A second
  # preloaded object drops LD_PRELOAD from the environment at start-up:
  # the processes the specs start (servers, nginx, make) run plain.
  printf '%s\n' '#include <stdlib.h>' \
    'static void __attribute__((constructor)) drop_preload(void) { unsetenv("LD_PRELOAD"); }' >"$dir/unpreload.c"
  if ! clang -fPIC -shared -o "$dir/unpreload.so" "$dir/unpreload.c" >>"$work/asan-build.log" 2>&1; then
    cat "$work/asan-build.log"; note_failure asan-build; return
  fi
  check_loads "$dir" "$runtime" || { note_failure asan-load; return; }
  for spec in $SPECS; do
    name=$(basename "$spec" .lua)
    rm -f "$work"/asan-report.*
    LD_PRELOAD="$runtime $dir/unpreload.so" \
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:log_path=$work/asan-report" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$work/asan-report" \
      "$LUA" "$BUSTED" --cpath="$dir/?.so" -o TAP "$spec" >"$work/asan-$name.tap" 2>&1
    status=$?
    if ls "$work"/asan-report.* >/dev/null 2>&1; then
      echo "   sanitizer report for $name:"; head -120 "$work"/asan-report.*
      [ "$status" -eq 0 ] && status=98
    fi
    check_tap "$name" "$work/asan-$name.tap" "$status" || note_failure "asan:$name"
  done
}

start=$(date +%s)
case "$mode" in
  all) run_valgrind; run_asan ;;
  valgrind) run_valgrind ;;
  asan) run_asan ;;
  *) echo "usage: $0 [all|valgrind|asan]" >&2; exit 2 ;;
esac
echo "check-memory: $(( $(date +%s) - start )) s"
if [ -n "$failures" ]; then
  echo "check-memory: FAILED:$failures"
  exit 1
fi
echo "check-memory: clean"
