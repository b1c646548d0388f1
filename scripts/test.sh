#!/bin/sh
# The whole test run: build warning-free, run every spec, and end on one
# line that sums them up ("specs: N passed, N failed").
set -u
cd "$(dirname "$0")/.."

log_dir=${TMPDIR:-/tmp}/bulksync-test.$$
mkdir -p "$log_dir"
trap 'rm -rf "$log_dir"' EXIT INT TERM
passed=0
failed=0
stage_failures=""

note_failure() { stage_failures="$stage_failures $1"; }

# run_specs LUA_VERSION INTERPRETER: build for that Lua and run busted under it.
run_specs() {
  ver=$1 interp=$2 out="$log_dir/specs-$1.tap"
  echo "== specs on Lua $ver ($interp)"
  if ! make -s clean all LUA_VERSION="$ver" CFLAGS="-O2 -g -Werror" >"$log_dir/build-$ver.log" 2>&1; then
    cat "$log_dir/build-$ver.log"; note_failure "build-$ver"; return
  fi
  "$interp" "$(command -v busted)" -o TAP spec >"$out" 2>&1
  status=$?
  ok=$(grep -c '^ok ' "$out")
  bad=$(grep -c '^not ok ' "$out")
  grep -E '^(not ok|#)' "$out" | grep -v '^# Skip' | head -200
  echo "   Lua $ver: $ok passed, $bad failed"
  passed=$((passed + ok)); failed=$((failed + bad))
  if [ "$status" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$ok" -eq 0 ]; then note_failure "specs-$ver"; fi
}

run_specs 5.4 lua5.4

make -s clean all >/dev/null 2>&1 || note_failure "rebuild"
if [ -n "$stage_failures" ]; then echo "failed stages:$stage_failures"; fi
echo "specs: $passed passed, $failed failed"
[ -z "$stage_failures" ] && [ "$failed" -eq 0 ]
