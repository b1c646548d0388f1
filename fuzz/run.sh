#!/bin/sh
# make fuzz: build the libFuzzer harnesses (clang) and run each for a
# bounded time, starting from the committed seed corpus.
#
#   FUZZ_SECONDS=60      seconds per harness (CI uses about 15)
#   FUZZ_HARNESSES="encode decode"
#   FUZZ_OUT=dir         where builds, new inputs and crash files go
#                        (default: a directory under $TMPDIR, kept on failure)
#
# A crash leaves its input as $FUZZ_OUT/crash-<harness>-*: reproduce with
# `$FUZZ_OUT/fuzz_<harness> <file>` (FUZZ_SHOW=1 in the environment prints
# the value it builds or decodes), fix the bug, add the input to
# fuzz/corpus/<harness>/ and a regression spec. One Lua state serves all
# inputs (fuzz/harness.h); if a crash does not come back alone, run the
# harness over the scratch corpus in $FUZZ_OUT.
#
# Ends with one line per harness: its executions per second, as libFuzzer
# counted them, and the rate it is meant to reach on a 2-core machine
# under ASan+UBSan (a slower run is reported, not failed: rates depend on
# the machine).
set -u
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
harnesses=${FUZZ_HARNESSES:-"encode decode"}
LUA_PC=${LUA_PC:-lua5.4}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bulksync-fuzz.XXXXXX")}
mkdir -p "$out"

command -v clang >/dev/null 2>&1 || { echo "fuzz: clang is not installed" >&2; exit 1; }
if ! ls "$(clang -print-resource-dir)/lib/linux/" 2>/dev/null | grep -q 'libclang_rt.fuzzer-'; then
  echo "fuzz: clang has no libFuzzer runtime (Debian: libclang-rt-dev)" >&2; exit 1
fi

lua_cflags=$(pkg-config --cflags "$LUA_PC")
lua_libs=$(pkg-config --libs "$LUA_PC")
curl_cflags=$(pkg-config --cflags libcurl 2>/dev/null)
curl_libs=$(pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
flags="-std=c99 -Wall -Wextra -pedantic -Werror -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -fsanitize-coverage-ignorelist=fuzz/coverage-ignore.txt"

# exec/s each harness should reach, and the longest input it gets: a build
# program past a few KiB only makes longer strings, a JSON text up to
# 64 KiB still decodes in well under a millisecond.
target() { case $1 in encode) echo 5000 ;; decode) echo 20000 ;; *) echo 0 ;; esac; }
max_len() { case $1 in encode) echo 4096 ;; *) echo 65536 ;; esac; }

status=0
rates=""
start=$(date +%s)
for h in $harnesses; do
  bin="$out/fuzz_$h"
  # shellcheck disable=SC2086
  if ! clang $flags $lua_cflags $curl_cflags -Isrc -Ifuzz -o "$bin" "fuzz/fuzz_$h.c" \
      $(make -s sources) $lua_libs $curl_libs; then
    echo "fuzz: could not build fuzz_$h" >&2; status=1; continue
  fi
  mkdir -p "$out/corpus-$h"
  echo "== fuzz_$h for ${seconds}s ($(ls fuzz/corpus/$h | wc -l) seeds)"
  # New inputs go to the scratch corpus (first directory); the committed
  # seeds are only read. -detect_leaks=0: see fuzz/harness.h (leaks are
  # still checked at exit); -reload=0: no other process adds to the corpus.
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" UBSAN_OPTIONS="print_stacktrace=1" \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$h")" \
      -detect_leaks=0 -reload=0 -print_final_stats=1 -artifact_prefix="$out/crash-$h-" \
      "$out/corpus-$h" "fuzz/corpus/$h" >"$out/fuzz_$h.log" 2>&1
  rc=$?
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$out/fuzz_$h.log" | sed 's/^/   /'
  # libFuzzer's rate over the whole run, from its last status line.
  rate=$(grep -Eo 'exec/s: [0-9]+' "$out/fuzz_$h.log" | tail -n 1 | sed 's/exec\/s: //')
  rate=${rate:-0}
  want=$(target "$h")
  if [ "$rc" -ne 0 ]; then verdict="target $want; FAILED, see above"
  elif [ "$rate" -ge "$want" ]; then verdict="target $want: met"
  else verdict="target $want: BELOW"; fi
  rates="$rates
fuzz_$h: $rate exec/s ($verdict)"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: fuzz_$h FAILED (exit $rc); log: $out/fuzz_$h.log" >&2
    grep -E -A40 '^==[0-9]+==ERROR|runtime error|^fuzz: ' "$out/fuzz_$h.log" | head -80 >&2
    ls "$out"/crash-"$h"-* 2>/dev/null >&2
    status=1
  fi
done
echo "fuzz: $(( $(date +%s) - start )) s$rates"
if [ "$status" -eq 0 ]; then
  [ -z "${FUZZ_OUT:-}" ] && rm -rf "$out"
  echo "fuzz: clean"
fi
exit $status
