#!/bin/sh
# Where the time of one hot path goes, in instructions counted by callgrind:
#
#   sh bench/profile.sh encode|encode_large|decode|decode_large|update [N]
#
# Prints the functions with the most instructions of their own (exclusive)
# and keeps the full profile in bench/out/callgrind.<case> for
# callgrind_annotate or kcachegrind. `update` runs against the bench's stub.
set -eu

cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
OUT=$(pwd)/bench/out
CASE=${1:?usage: sh bench/profile.sh encode|encode_large|decode|decode_large|update [N]}
N=${2:-}
if [ -z "$N" ]; then
  case "$CASE" in
    *_large) N=5 ;;
    update) N=2000 ;;
    *) N=2000 ;;
  esac
fi
command -v valgrind >/dev/null 2>&1 || { echo "profile: valgrind is not installed" >&2; exit 1; }
LUA_VERSION=${LUA_VERSION:-5.4}
MODDIR=$OUT/lua$LUA_VERSION
mkdir -p "$MODDIR/bulksync"
make -s "$MODDIR/bulksync/core.so" MODULE="$MODDIR/bulksync/core.so" LUA_VERSION="$LUA_VERSION" >/dev/null
BENCH_CPATH="$MODDIR/?.so;"
export BENCH_CPATH

if [ "$CASE" = update ]; then
  . bench/stub.sh
  trap stub_stop EXIT
  trap 'exit 130' INT TERM
  stub_start
fi

FILE=$OUT/callgrind.$CASE
valgrind --tool=callgrind --callgrind-out-file="$FILE" "$LUA" bench/lua/loop.lua "$CASE" "$N" 2>"$OUT/callgrind.$CASE.log" || {
  cat "$OUT/callgrind.$CASE.log" >&2; exit 1; }
echo "profile of $CASE x $N (full data: $FILE)"
callgrind_annotate --auto=no "$FILE" 2>/dev/null | awk '/PROGRAM TOTALS/ { on = 1 } on && NF' | head -30
