#!/bin/sh
# The whole test run, as CI runs it:
#   1. every spec under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT (builds with -Werror),
#      plus offline installs of the release rock on each  (scripts/matrix.sh)
#   2. every spec under valgrind and under ASan+UBSan       (scripts/check-memory.sh)
#   3. a short bounded fuzzing pass from the seed corpus    (fuzz/run.sh)
# and ends on one line that sums it up: "tests: N passed, N failed", where
# each spec counts once per Lua and stages 2 and 3 count once each.
set -u
cd "$(dirname "$0")/.."

log=$(mktemp "${TMPDIR:-/tmp}/bulksync-test.XXXXXX")
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT TERM

passed=0 failed=0 failures=""

{ sh scripts/matrix.sh 2>&1; echo "matrix-exit: $?"; } | tee "$log"
summary=$(grep -E '^matrix: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -n "$summary" ]; then
  passed=$(echo "$summary" | sed -E 's/^matrix: ([0-9]+) passed.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
fi
if ! grep -q '^matrix-exit: 0$' "$log" || [ -z "$summary" ]; then
  failures="$failures matrix"
  [ "$failed" -eq 0 ] && failed=1   # a build or install failed: no spec count shows it
fi

stage() {
  name=$1; shift
  echo "== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures="$failures $name"
  fi
}

stage check-memory sh scripts/check-memory.sh
stage fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-15}" sh fuzz/run.sh

[ -n "$failures" ] && echo "failed:$failures"
echo "tests: $passed passed, $failed failed"
[ -z "$failures" ]
