#!/usr/bin/env bash
# run.sh BUILD_DIR [SECONDS] - build the journal fuzzer with clang's
# libFuzzer (plus ASan and UBSan) and run it for SECONDS (default 30).
#
# BUILD_DIR is a configured CMake build of the project (for config.h); the
# fuzzer, its seed corpus and any crash artifact go to BUILD_DIR/fuzz-journal.
# The seeds are generated afresh by gen_seeds.c from the encoder.  Prints
# the number of executions; exits non-zero on a crash or a failed check.
# Without clang or libFuzzer: "SKIP" and exit 77, or failure when
# AFILE_REQUIRE_PRIV_TESTS=1.
set -u
build=${1:?usage: run.sh BUILD_DIR [SECONDS]}
secs=${2:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$build/fuzz-journal
probe=

skip() {
  if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
    echo "FAIL: $1 (AFILE_REQUIRE_PRIV_TESTS=1)"
    exit 1
  fi
  echo "SKIP: $1"
  exit 77
}

cleanup() {
  [ -n "$probe" ] && rm -rf "$probe"
}
trap cleanup EXIT

cc=
for c in clang clang-14; do
  if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done
[ -n "$cc" ] || skip "clang not found"
probe=$(mktemp -d)
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' >"$probe/p.c"
"$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
  >"$probe/log" 2>&1 ||
  skip "$cc cannot link libFuzzer (Debian: libclang-rt-14-dev): $(head -1 "$probe/log")"
[ -f "$build/config.h" ] || { echo "FAIL: $build/config.h missing: not a build dir"; exit 1; }

rm -rf "$out"
mkdir -p "$out/corpus" "$out/seeds" || exit 1
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -fno-omit-frame-pointer
  -fno-sanitize-recover=all
  -I "$src/include" -I "$src/src" -I "$build" -I "$src/tests/journal")
lib=("$src/src/journal.c" "$src/src/crc32c.c" "$src/src/sys.c" "$src/src/wrap.c" "$src/src/stats.c")
"$cc" "${flags[@]}" -fsanitize=fuzzer,address,undefined \
  "${lib[@]}" "$src/tests/fuzz/fuzz_journal.c" -o "$out/fuzz_journal" ||
  { echo "FAIL: cannot build the fuzzer"; exit 1; }
"$cc" "${flags[@]}" -fsanitize=address,undefined \
  "${lib[@]}" "$src/tests/fuzz/gen_seeds.c" -o "$out/gen_seeds" ||
  { echo "FAIL: cannot build the seed generator"; exit 1; }
"$out/gen_seeds" "$out/seeds" || { echo "FAIL: seed generation"; exit 1; }

# -error_exitcode: libFuzzer's default, 77, is CTest's "skipped".
"$out/fuzz_journal" -max_len=4096 -max_total_time="$secs" \
  -print_final_stats=1 -error_exitcode=99 -artifact_prefix="$out/" \
  "$out/corpus" "$out/seeds" >"$out/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out/log" | tail -1)
ncorp=$(ls "$out/corpus" | wc -l)
if [ "$rc" != 0 ]; then
  tail -60 "$out/log"
  echo "FAIL: fuzz-journal crashed or a check failed (rc $rc) after ${execs:-?} execs;" \
    "reproduce with: $out/fuzz_journal $(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* 2>/dev/null | head -1)"
  exit 1
fi
echo "fuzz-journal: ${execs:-?} execs in ${secs}s, corpus $ncorp new inputs, no crash"
exit 0
