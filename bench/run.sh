#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh - build the benchmarks and run them side by side with their
# peers, then print one table: metric, atomicfile, peer, ratio, target, met.
#
#   1. small durable replace (4 KiB): afile_write() against the minimal
#      hand-written protocol, interleaved call by call (bench_small); then
#      W2 (no syncs on either side), and the system calls of the
#      library's guarantees written by hand (--floor) against the same;
#   2. system calls and syncs per small replace, counted with strace;
#   3. streamed replace of BENCH_STREAM_MB MiB: the CLI (`atomicfile write
#      FILE < SOURCE`) and the library writer (bench_stream, without and
#      with a size hint) against `dd bs=1M conv=fsync`, runs interleaved,
#      median reported; peak memory from /usr/bin/time -v;
#   4. a batch of BENCH_BATCH_N small files made durable: N afile_write()
#      calls, one afile_write_many(), one transaction and one SQLite
#      transaction, interleaved over rounds, median reported; and the
#      ways of syncing N staged temps (fsync each, fsync from threads,
#      syncfs, io_uring) behind the library's choice of syncfs
#      (bench_batch);
#   5. W5: a 4 KiB durable patch at the middle of a BENCH_PATCH_MB file,
#      in place (AFILE_INPLACE, one-shot and through a kept-open
#      afile_patcher) and by copy, against SQLite updating a
#      4 KiB blob (WAL, synchronous=FULL), interleaved (bench_patch), and
#      the system calls of one in-place patch (strace);
#   6. on tmpfs (BENCH_TMPFS_DIR, default /dev/shm when it is tmpfs),
#      where per-call CPU cost shows: W1 (4 KiB durable replace) and W2
#      (the same with no syncs on either side, AFILE_SYNC_NONE) against
#      the minimal protocol, W3 (afile_write_many of BENCH_BATCH_N new
#      files against the minimal protocol per file), the system calls
#      per operation of each (strace), and the batch of BENCH_BATCH_N
#      files;
#   7. the CLI against coreutils in a process-per-operation loop
#      (BENCH_CLI_N runs each, interleaved): `atomicfile cp` vs `cp`,
#      `atomicfile --version` vs /bin/true and a static `true` (DESIGN
#      §7's reference; built here with `cc -static` when libc.a is there).
#
# The build is our own (BENCH_BUILD_DIR, Release, no sanitizers, tests off)
# so that it never disturbs a developer's build.  The work directory is
# created under the build directory, on the same disk as the sources (never
# tmpfs, where syncs are free), and removed on exit whatever happens.
#
# Environment (defaults in parentheses):
#   BENCH_SMALL_N       measured calls per variant in bench_small (2000)
#   BENCH_SMALL_DIRSIZE other files in the directory for the second small
#                       run, 0 to skip it (10000)
#   BENCH_STRACE_N      calls per variant traced for syscall counts (100)
#   BENCH_STREAM_MB     size of the streamed replace, in MiB (1024)
#   BENCH_STREAM_RUNS   measured runs per streaming variant (9)
#   BENCH_BATCH_N       files per batch in bench_batch (1000)
#   BENCH_BATCH_ROUNDS  measured rounds in bench_batch (5)
#   BENCH_BATCH_DIRTY_MB  unrelated dirty data for the second pass over
#                       the sync methods, MiB; 0 skips it (64)
#   BENCH_PATCH_MB      size of the W5 file, in MiB (1024)
#   BENCH_PATCH_ROUNDS  measured W5 rounds (in place, SQLite) (20)
#   BENCH_PATCH_COPY    measured W5 rounds of the copy, which copies the
#                       whole file without reflinks (3)
#   BENCH_TMPFS_DIR     a tmpfs directory for section 6 ("" skips it)
#   BENCH_CLI_N         process-per-op runs per CLI variant (200)
#   BENCH_MANY_ROUNDS   measured W3 calls (batches) on tmpfs (15)
#   BENCH_BUILD_DIR     build directory (SOURCE/build-bench)
#   BENCH_WORK_PARENT   where the work directory goes (the build directory)
#   BENCH_SKIP_BUILD=1  use the binaries already in BENCH_BUILD_DIR
#   AFILE_CLI           the atomicfile executable (default: the one built)
#
# A quick smoke run:  BENCH_SMALL_N=50 BENCH_STREAM_MB=64 bench/run.sh
#
# No result is asserted: the script exits 0 whether the targets are met or
# not, and non-zero only when a benchmark could not run.  Times depend on
# the machine; only the ratios, measured in the same run, mean anything.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${BENCH_BUILD_DIR:-$src/build-bench}
small_n=${BENCH_SMALL_N:-2000}
dirsize=${BENCH_SMALL_DIRSIZE:-10000}
strace_n=${BENCH_STRACE_N:-100}
stream_mb=${BENCH_STREAM_MB:-1024}
stream_runs=${BENCH_STREAM_RUNS:-9}
batch_n=${BENCH_BATCH_N:-1000}
batch_rounds=${BENCH_BATCH_ROUNDS:-5}
batch_dirty=${BENCH_BATCH_DIRTY_MB:-64}
patch_mb=${BENCH_PATCH_MB:-1024}
patch_rounds=${BENCH_PATCH_ROUNDS:-20}
patch_copy=${BENCH_PATCH_COPY:-3}
cli_n=${BENCH_CLI_N:-200}
many_n=${BENCH_MANY_ROUNDS:-15}
if [[ -z ${BENCH_TMPFS_DIR+x} ]]; then
  BENCH_TMPFS_DIR=
  [[ $(df --output=fstype /dev/shm 2>/dev/null | tail -n 1) == tmpfs ]] &&
    BENCH_TMPFS_DIR=/dev/shm
fi
tmpfs_dir=$BENCH_TMPFS_DIR
cli=${AFILE_CLI:-}

die() {
  echo "run.sh: $*" >&2
  exit 1
}

note() {
  echo "run.sh: $*" >&2
}

section() {
  printf '\n== %s ==\n' "$*"
}

for v in small_n strace_n stream_mb stream_runs batch_n batch_rounds; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[[ $dirsize =~ ^[0-9]+$ ]] || die "BENCH_SMALL_DIRSIZE must be a number"
[[ $batch_dirty =~ ^[0-9]+$ ]] || die "BENCH_BATCH_DIRTY_MB must be a number"

# ------------------------------------------------------------------ build

build_bench() {
  local tools=ON
  if [[ ! -f $src/tools/atomicfile/CMakeLists.txt ]]; then
    note "the CLI sources are not there yet: building without the CLI"
    tools=OFF
  fi
  mkdir -p "$build"
  rm -f "$build/bench/cli-path.txt"
  local log=$build/bench-build.log
  configure() {
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
      -DAFILE_BUILD_BENCH=ON -DAFILE_BUILD_TOOLS="$1" -DBUILD_TESTING=OFF \
      -DAFILE_BUILD_TESTS=OFF -DAFILE_SANITIZE= -DAFILE_WERROR=OFF \
      >>"$log" 2>&1 && cmake --build "$build" -j"$(nproc)" \
      --target bench_all >>"$log" 2>&1
  }
  : >"$log"
  if ! configure "$tools"; then
    [[ $tools == ON ]] || { tail -n 30 "$log" >&2; die "build failed (log: $log)"; }
    # A CLI that does not build yet must not stop the library benchmarks.
    note "the build with the CLI failed; retrying without it (log: $log)"
    rm -f "$build/bench/cli-path.txt"
    configure OFF || { tail -n 30 "$log" >&2; die "build failed (log: $log)"; }
  fi
}

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  build_bench
fi
bin=$build/bench
[[ -x $bin/bench_small && -x $bin/bench_stream && -x $bin/bench_batch && -x $bin/bench_patch ]] ||
  die "no benchmarks in $bin (build first, or unset BENCH_SKIP_BUILD)"
if [[ -z $cli && -f $bin/cli-path.txt ]]; then
  cli=$(<"$bin/cli-path.txt")
fi
if [[ -n $cli && ! -x $cli ]]; then
  note "CLI '$cli' is not executable: the CLI rows will be n/a"
  cli=
fi

# ------------------------------------------------------------ work dir

parent=${BENCH_WORK_PARENT:-$build}
mkdir -p "$parent"
fstype=$(df --output=fstype "$parent" | tail -n 1)
case $fstype in
tmpfs | ramfs) die "$parent is on $fstype, where syncs cost nothing; set BENCH_WORK_PARENT to a directory on a disk" ;;
esac
work=$(mktemp -d "$parent/bench-work.XXXXXX")
twork=
cleanup() {
  rm -rf -- "$work"
  [[ -z $twork ]] || rm -rf -- "$twork"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

have_strace=0
command -v strace >/dev/null && have_strace=1
timev=/usr/bin/time
if [[ ! -x $timev ]]; then
  note "/usr/bin/time is missing (apt-get install time): peak memory will be n/a"
  timev=
fi

# ------------------------------------------------------------ helpers

# median: the median of the numbers on stdin, "n/a" if none.
median() {
  sort -g | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "n/a"; exit }
      if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
      else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# kv FILE KEY: the value of KEY in a "key value" file, "n/a" if absent.
kv() {
  awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "n/a" }' "$1" 2>/dev/null || echo n/a
}

# calc EXPR A B: an awk expression on a and b, "n/a" when either is.
calc() {
  awk -v a="$2" -v b="$3" "BEGIN {
    if (a == \"n/a\" || b == \"n/a\" || a == \"\" || b == \"\") { print \"n/a\"; exit }
    a += 0; b += 0; if (b == 0) { print \"n/a\"; exit }; $1 }"
}

# met COND A B: "yes", "no" or "n/a" for an awk condition on a and b.
met() {
  calc "print (($1) ? \"yes\" : \"no\")" "$2" "$3"
}

# count_syscalls TRACE: "name count" for each system call made between
# the begin and end markers of bench_small, then "__total count".
count_syscalls() {
  awk '
    /afile-bench-mark-begin/ { on = 1; next }
    /afile-bench-mark-end/ { on = 0; next }
    on {
      line = $0
      sub(/^[0-9]+ +/, "", line)
      if (match(line, /^[a-z_0-9]+\(/)) {
        n[substr(line, 1, RLENGTH - 1)]++
        total++
      }
    }
    END {
      for (s in n) print s, n[s]
      print "__total", total + 0
    }' "$1"
}

rss_kib() {
  awk -F': *' '/Maximum resident set size/ { print $2 }' "$1" 2>/dev/null
}

# ------------------------------------------------------------ header

section "atomicfile benchmarks"
echo "date:       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "commit:     $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  [[ -n $(git -C "$src" --no-optional-locks status --porcelain 2>/dev/null) ]] && echo ' (working tree modified)')"
echo "kernel:     $(uname -srm)"
echo "cpu:        $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
echo "work dir:   $work ($fstype on $(df --output=source "$work" | tail -n 1))"
echo "build:      $build (Release, no sanitizers)"
echo "cli:        ${cli:-not built}"
echo "parameters: BENCH_SMALL_N=$small_n BENCH_SMALL_DIRSIZE=$dirsize BENCH_STRACE_N=$strace_n"
echo "            BENCH_STREAM_MB=$stream_mb BENCH_STREAM_RUNS=$stream_runs"
echo "            BENCH_BATCH_N=$batch_n BENCH_BATCH_ROUNDS=$batch_rounds BENCH_BATCH_DIRTY_MB=$batch_dirty"

# ------------------------------------------------------------ 1. small

section "1. small durable replace, 4 KiB (afile_write vs minimal protocol)"
mkdir "$work/small"
"$bin/bench_small" --iterations="$small_n" --dir="$work/small" \
  --kv="$work/small.kv"

# W2 on the disk: the same with no syncs on either side, then the
# system calls of the library's guarantees written by hand (--floor)
# against the minimal protocol: floor/minimal is the guarantees' price,
# afile/floor the library's own (docs/NOTES.md, Design changes).
mkdir "$work/w2" "$work/w2f"
"$bin/bench_small" --iterations="$small_n" --nosync --dir="$work/w2" \
  --kv="$work/w2.kv"
"$bin/bench_small" --iterations="$small_n" --nosync --floor \
  --dir="$work/w2f" --kv="$work/w2f.kv"

# The same in a directory that holds other files, as configuration
# directories and spools do: per-entry work in the library shows here.
: >"$work/big.kv"
if ((dirsize > 0)); then
  section "1b. the same in a directory of $dirsize other files"
  mkdir "$work/big"
  "$bin/bench_small" --iterations="$(((small_n + 1) / 2))" \
    --populate="$dirsize" --dir="$work/big" --kv="$work/big.kv"
fi

# ------------------------------------------------------------ 2. counts

section "2. system calls per small replace (strace, $strace_n calls each)"
traced=(afile minimal)
((dirsize > 0)) && traced+=(afile-big)
for v in "${traced[@]}"; do
  : >"$work/counts.$v"
done
if [[ $have_strace == 1 ]]; then
  for v in "${traced[@]}"; do
    mkdir "$work/st-$v"
    strace -f -qq -o "$work/strace.$v" "$bin/bench_small" --only="${v%-big}" \
      --iterations="$strace_n" --warmup=2 --dir="$work/st-$v" \
      --populate="$([[ $v == *-big ]] && echo "$dirsize" || echo 0)" >/dev/null
    count_syscalls "$work/strace.$v" >"$work/counts.$v"
  done
  # Side by side, per operation; a name absent from one side counts 0.
  # The third column is afile_write() in the directory of 1b.
  awk -v n="$strace_n" -v nf="${#traced[@]}" -v big="$dirsize" '
    FNR == 1 { f++ }
    { c[f, $1] = $2; names[$1] = 1 }
    function col(i, s) { return i <= nf ? sprintf("%10.2f", c[i, s] / n) : "" }
    END {
      printf "  %-22s %10s %10s %10s\n", "syscall", "afile/op", "minimal/op", (nf > 2 ? "afile/op" : "")
      if (nf > 2) printf "  %-22s %10s %10s %10s\n", "", "", "", "(" big " files)"
      for (s in names) if (s != "__total")
        printf "  %-22s %s %s %s\n", s, col(1, s), col(2, s), col(3, s) | "sort"
      close("sort")
      printf "  %-22s %s %s %s\n", "TOTAL", col(1, "__total"), col(2, "__total"), col(3, "__total")
      for (i = 1; i <= 3; i++) c[i, "syncs"] = c[i, "fsync"] + c[i, "fdatasync"]
      printf "  %-22s %s %s %s\n", "fsync+fdatasync", col(1, "syncs"), col(2, "syncs"), col(3, "syncs")
    }' "${traced[@]/#/$work/counts.}"
  echo "  (the minimal protocol is: openat, write, fsync, close, rename,"
  echo "   openat of the directory, fsync, close = 8 calls)"
else
  echo "  strace not installed: skipped"
fi
per_op() {
  local f=$work/counts.$1
  [[ -s $f ]] || { echo n/a; return; }
  awk -v n="$strace_n" -v want="$2" '
    want == "syncs" && ($1 == "fsync" || $1 == "fdatasync") { s += $2 }
    want == "total" && $1 == "__total" { s += $2 }
    END { printf "%.2f\n", s / n }' "$f"
}
sys_a=$(per_op afile total)
sys_m=$(per_op minimal total)
sys_big=n/a
((dirsize > 0)) && sys_big=$(per_op afile-big total)
sync_a=$(per_op afile syncs)
sync_m=$(per_op minimal syncs)

# ------------------------------------------------------------ 3. stream

section "3. streamed replace of $stream_mb MiB"
bytes=$((stream_mb * 1048576))
srcf=$work/stream-source.bin
# Random data, so that no layer can compress or deduplicate it; a file on
# the same file system, so that every variant reads exactly the same bytes
# the same way.  It is synced and then read once, so that it sits in the
# page cache and no variant pays for reading it from the disk.
head -c "$bytes" /dev/urandom >"$srcf"
sync "$srcf"
cat "$srcf" >/dev/null
cached() {
  if command -v fincore >/dev/null; then
    local res
    res=$(fincore --bytes --noheadings --output RES "$srcf" 2>/dev/null) || {
      echo unknown
      return
    }
    awk -v r="$res" -v b="$bytes" 'BEGIN { printf "%.0f%% of the source in the page cache\n", 100 * r / b }'
  else
    echo "unknown (fincore missing)"
  fi
}
echo "source: $srcf, random data, $bytes bytes; before the runs: $(cached)"

variants=(dd lib hint)
[[ -n $cli ]] && variants=(cli dd lib hint)
echo "variants: ${variants[*]}; each starts with its target existing"
echo "  cli: $cli write OUT < SOURCE"
echo "  dd:  dd if=SOURCE of=OUT bs=1M conv=fsync   (rewrites OUT in place)"
echo "  lib: bench_stream --input=SOURCE --output=OUT --buffer=1048576"
echo "  hint: the same with --size-hint (opts.size_hint = the size: fallocate)"

# run_variant VARIANT RUN: one timed run; appends "variant run ns rss_kib".
run_variant() {
  local v=$1 r=$2 out=$work/out.$1 tf=$work/time.$1.$2 t0 t1 rc=0
  local -a wrap=()
  [[ -n $timev ]] && wrap=("$timev" -v -o "$tf")
  # Start every run from a quiet file system: no write-back left over from
  # the previous run may land in this one.
  sync -f "$work"
  t0=$(date +%s%N)
  case $v in
  cli) "${wrap[@]}" "$cli" write "$out" <"$srcf" ;;
  dd) "${wrap[@]}" dd if="$srcf" of="$out" bs=1M conv=fsync status=none ;;
  lib)
    "${wrap[@]}" "$bin/bench_stream" --input="$srcf" --output="$out" \
      --buffer=1048576 >/dev/null
    ;;
  hint)
    "${wrap[@]}" "$bin/bench_stream" --input="$srcf" --output="$out" \
      --buffer=1048576 --size-hint >/dev/null
    ;;
  esac || rc=$?
  t1=$(date +%s%N)
  if ((rc != 0)); then
    note "$v failed with status $rc"
    return "$rc"
  fi
  echo "$v $r $((t1 - t0)) $([[ -n $timev ]] && rss_kib "$tf" || echo n/a)" \
    >>"$work/stream.results"
}

# Unmeasured round: creates every target, so each measured run replaces a
# full-size file, as a real replace does.
# A CLI that fails (not finished yet) is dropped with a note; the library
# and dd rows still mean something without it.
for v in "${variants[@]}"; do
  if ! run_variant "$v" 0; then
    [[ $v == cli ]] || die "$v could not run"
    note "dropping the CLI from the streaming benchmark"
    cli=
    variants=(dd lib hint)
  fi
done
: >"$work/stream.results"
nv=${#variants[@]}
for ((r = 1; r <= stream_runs; r++)); do
  # Rotate the order and reverse it every other run (dd lib hint cli,
  # dd cli hint lib, ...), so that no variant always runs first and none
  # always follows the same one: what a run leaves behind (memory to
  # reclaim, blocks to free) must not always burden the same variant.
  for ((i = 0; i < nv; i++)); do
    if ((r % 2)); then
      v=${variants[(r + i) % nv]}
    else
      v=${variants[(r + nv - i) % nv]}
    fi
    run_variant "$v" "$r" || die "$v failed in run $r"
  done
done
echo "after the runs: $(cached)"

printf '  %-4s %-4s %10s %10s %12s\n' run var seconds MB/s "max RSS MiB"
sort -k1,1 -k2,2n "$work/stream.results" | awk -v b="$bytes" '{
  s = $3 / 1e9
  rss = ($4 == "n/a") ? "n/a" : sprintf("%.1f", $4 / 1024)
  printf "  %-4s %-4s %10.3f %10.1f %12s\n", $2, $1, s, b / s / 1e6, rss
}'
for v in "${variants[@]}"; do
  if cmp -s "$srcf" "$work/out.$v"; then
    echo "  $v: output identical to the source"
  else
    note "$v: output DIFFERS from the source"
    echo "  $v: output DIFFERS from the source"
  fi
done

# stream_stat VARIANT mbps|rss [best]: the median over the measured runs,
# or with "best" the highest throughput.
stream_stat() {
  awk -v v="$1" -v what="$2" -v b="$bytes" '$1 == v {
    if (what == "mbps") print b / ($3 / 1e9) / 1e6
    else if ($4 != "n/a") print $4 / 1024
  }' "$work/stream.results" | if [[ ${3:-} == best ]]; then
    sort -g | tail -n 1
  else
    median
  fi
}
mbps_dd=$(stream_stat dd mbps)
mbps_lib=$(stream_stat lib mbps)
mbps_hint=$(stream_stat hint mbps)
rss_dd=$(stream_stat dd rss)
rss_lib=$(stream_stat lib rss)
rss_hint=$(stream_stat hint rss)
mbps_cli=n/a
rss_cli=n/a
if [[ -n $cli ]]; then
  mbps_cli=$(stream_stat cli mbps)
  rss_cli=$(stream_stat cli rss)
fi
# The median is the reported figure; the best run shows what each variant
# does with the least interference, which helps when the device is noisy.
echo "  MB/s, median and best of $stream_runs runs (ratio to dd):"
for v in "${variants[@]}"; do
  awk -v v="$v" -v m="$(stream_stat "$v" mbps)" -v b="$(stream_stat "$v" mbps best)" \
    -v md="$mbps_dd" -v bd="$(stream_stat dd mbps best)" 'BEGIN {
      printf "  %-4s median %7.1f (%.3f)   best %7.1f (%.3f)\n", v, m, m / md, b, b / bd
    }'
done

# ------------------------------------------------------------ 4. batch

section "4. batch of $batch_n small files, and ways of syncing staged temps"
# The program settles the file system before each variant, rotates their
# order from round to round and reports medians; run.sh only reads the
# medians back.  SQLite and io_uring variants read "SKIPPED" when the
# build found no libsqlite3-dev or liburing-dev: their rows become n/a.
mkdir "$work/batch"
"$bin/bench_batch" --files="$batch_n" --rounds="$batch_rounds" \
  --dirty-mb="$batch_dirty" --dir="$work/batch" --kv="$work/batch.kv"

# ------------------------------------------------------------ 5. W5

section "5. W5: 4 KiB patch at the middle of a $patch_mb MiB file (durable)"
mkdir "$work/patch"
"$bin/bench_patch" --dir="$work/patch" --size-mb="$patch_mb" \
  --rounds="$patch_rounds" --copy-rounds="$patch_copy" --kv="$work/patch.kv"
ip_sys=n/a
pt_sys=n/a
if [[ $have_strace == 1 ]]; then
  # A 1 MiB file and 50 patches: the set-up (1 write, the warm-up patch)
  # is left in, so this is a slight over-count per patch.
  mkdir "$work/patch-st"
  strace -f -qq -c -o "$work/patch.strace" "$bin/bench_patch" --only=inplace \
    --dir="$work/patch-st" --size-mb=1 --rounds=50 >/dev/null
  ip_sys=$(awk '$NF == "total" { printf "%.1f\n", $(NF - 2) / 51 }' "$work/patch.strace")
  echo "  system calls per in-place patch (strace -c, 51 patches incl. set-up): $ip_sys"
  mkdir "$work/patcher-st"
  strace -f -qq -c -o "$work/patcher.strace" "$bin/bench_patch" --only=patcher \
    --dir="$work/patcher-st" --size-mb=1 --rounds=50 >/dev/null
  pt_sys=$(awk '$NF == "total" { printf "%.1f\n", $(NF - 2) / 51 }' "$work/patcher.strace")
  echo "  system calls per patcher patch (same count): $pt_sys"
fi

# ------------------------------------------------------------ 6. tmpfs

: >"$work/t1.kv"
: >"$work/t2.kv"
: >"$work/t2f.kv"
: >"$work/t3.kv"
for w in w1 w2 w3; do
  for v in afile minimal; do echo n/a >"$work/tsys.$w.$v"; done
done
: >"$work/tbatch.kv"
if [[ -n $tmpfs_dir ]]; then
  twork=$(mktemp -d "$tmpfs_dir/afile-bench.XXXXXX")
  section "6. on tmpfs ($twork): W1, W2, batch"
  mkdir "$twork/w1" "$twork/w2" "$twork/batch"
  "$bin/bench_small" --iterations="$small_n" --dir="$twork/w1" --kv="$work/t1.kv" 2>/dev/null
  "$bin/bench_small" --iterations="$small_n" --nosync --dir="$twork/w2" --kv="$work/t2.kv" 2>/dev/null
  mkdir "$twork/w2f"
  "$bin/bench_small" --iterations="$small_n" --nosync --floor --dir="$twork/w2f" \
    --kv="$work/t2f.kv" 2>/dev/null
  # W3: afile_write_many of BENCH_BATCH_N new files against the minimal
  # protocol for each (a call = the whole batch).
  mkdir "$twork/w3"
  "$bin/bench_small" --many="$batch_n" --iterations="$many_n" --warmup=2 \
    --dir="$twork/w3" --kv="$work/t3.kv" 2>/dev/null
  # System calls per operation on tmpfs (per file for W3), so that a
  # regression shows: strace between bench_small's markers.
  if [[ $have_strace == 1 ]]; then
    for w in w1 w2 w3; do
      for v in afile minimal; do
        args=(--only="$v" --warmup=2 --dir="$twork/st-$w-$v")
        per=$strace_n
        case $w in
        w1) args+=(--iterations="$strace_n") ;;
        w2) args+=(--iterations="$strace_n" --nosync) ;;
        w3) args+=(--iterations=3 --many=100) per=300 ;;
        esac
        mkdir "$twork/st-$w-$v"
        strace -f -qq -o "$work/tstrace.$w.$v" "$bin/bench_small" "${args[@]}" >/dev/null 2>&1
        # W3 removes the files between calls (unlink): not the operation's.
        count_syscalls "$work/tstrace.$w.$v" |
          awk -v n="$per" '$1 == "unlink" { u = $2 } $1 == "__total" { t = $2 }
            END { printf "%.2f\n", (t - u) / n }' >"$work/tsys.$w.$v"
      done
    done
    echo "  system calls per operation on tmpfs (W3: per file), afile vs minimal:"
    echo "    W1 $(<"$work/tsys.w1.afile") vs $(<"$work/tsys.w1.minimal")," \
      "W2 $(<"$work/tsys.w2.afile") vs $(<"$work/tsys.w2.minimal")," \
      "W3 $(<"$work/tsys.w3.afile") vs $(<"$work/tsys.w3.minimal")"
  fi
  "$bin/bench_batch" --files="$batch_n" --rounds="$batch_rounds" --dirty-mb=0 \
    --dir="$twork/batch" --kv="$work/tbatch.kv" 2>/dev/null || note "the tmpfs batch failed"
else
  section "6. tmpfs: skipped (BENCH_TMPFS_DIR empty, /dev/shm not tmpfs)"
fi

# ------------------------------------------------------------ 7. CLI

cli_cp_us=n/a cp_us=n/a cli_ver_us=n/a true_us=n/a strue_us=n/a
if [[ -n $cli ]]; then
  section "7. the CLI, a process per operation ($cli_n runs each, interleaved)"
  cdir=${twork:-$work}/cli
  mkdir -p "$cdir"
  head -c 4096 /dev/urandom >"$cdir/src"
  # A static `true`: DESIGN §7 measures start-up over it.  Without libc.a
  # the row says n/a.
  strue=$cdir/true-static
  printf 'int main(void) { return 0; }\n' >"$cdir/t.c"
  cc -O2 -static -o "$strue" "$cdir/t.c" 2>/dev/null || strue=
  # loop_us CMD...: mean microseconds per run of CMD over $cli_n runs,
  # alternating with the peer by the caller (one call per variant per
  # block of 10 runs).
  : >"$cdir/times"
  for ((blk = 0; blk < cli_n / 10; blk++)); do
    for v in acp cp aver true strue; do
      [[ $v == strue && -z $strue ]] && continue
      t0=$(date +%s%N)
      for ((j = 0; j < 10; j++)); do
        case $v in
        acp) "$cli" cp "$cdir/src" "$cdir/dst-a" ;;
        cp) cp "$cdir/src" "$cdir/dst-c" ;;
        aver) "$cli" --version >/dev/null ;;
        true) /bin/true ;;
        strue) "$strue" ;;
        esac
      done
      t1=$(date +%s%N)
      echo "$v $(((t1 - t0) / 10000))" >>"$cdir/times"
    done
  done
  cmed() { awk -v v="$1" '$1 == v { print $2 }' "$cdir/times" | median; }
  cli_cp_us=$(cmed acp) cp_us=$(cmed cp) cli_ver_us=$(cmed aver) true_us=$(cmed true)
  [[ -n $strue ]] && strue_us=$(cmed strue)
  echo "  per process (median of blocks of 10): atomicfile cp $cli_cp_us us, cp $cp_us us,"
  echo "  atomicfile --version $cli_ver_us us, /bin/true $true_us us, static true $strue_us us"
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 20 --runs "$cli_n" --export-json "$work/hf.json" \
      "$cli --version" /bin/true ${strue:+"$strue"} >/dev/null 2>&1 &&
      awk -F'[:,]' '/"mean"/ { m[++n] = $2 } END { if (n >= 2) printf "  hyperfine -N: atomicfile --version %.1f us, /bin/true %.1f us, start-up over /bin/true %.1f us\n", m[1] * 1e6, m[2] * 1e6, (m[1] - m[2]) * 1e6; if (n >= 3) printf "  hyperfine -N: static true %.1f us, start-up over a static true %.1f us\n", m[3] * 1e6, (m[1] - m[3]) * 1e6 }' "$work/hf.json"
  fi
fi

# ------------------------------------------------------------ report

section "summary (ratio = atomicfile / peer; medians)"
p50_a=$(kv "$work/small.kv" small.afile.p50_us)
p50_m=$(kv "$work/small.kv" small.minimal.p50_us)
p99_a=$(kv "$work/small.kv" small.afile.p99_us)
p99_m=$(kv "$work/small.kv" small.minimal.p99_us)
p50_ba=$(kv "$work/big.kv" small.afile.p50_us)
p50_bm=$(kv "$work/big.kv" small.minimal.p50_us)
ratio='printf "%.3f\n", a / b'

row() {
  printf '%-38s %11s %11s %7s %-12s %s\n' "$@"
}
# fmt1 X: X with one decimal, or as it is when not a number.
fmt1() {
  awk -v x="$1" 'BEGIN { if (x ~ /^[0-9.eE+-]+$/) printf "%.1f\n", x; else print x }'
}
for v in p50_a p50_m p99_a p99_m p50_ba p50_bm mbps_cli mbps_dd mbps_lib mbps_hint \
  rss_cli rss_dd rss_lib rss_hint; do
  printf -v "$v" '%s' "$(fmt1 "${!v}")"
done
row metric atomicfile peer ratio target met
row "small replace p50 (us) vs minimal" "$p50_a" "$p50_m" \
  "$(calc "$ratio" "$p50_a" "$p50_m")" "ratio<=1.10" \
  "$(met "a / b <= 1.10" "$p50_a" "$p50_m")"
row "small replace p99 (us) vs minimal" "$p99_a" "$p99_m" \
  "$(calc "$ratio" "$p99_a" "$p99_m")" "(none)" "-"
if ((dirsize > 0)); then
  row "  in a dir of $dirsize files, p50 (us)" "$p50_ba" "$p50_bm" \
    "$(calc "$ratio" "$p50_ba" "$p50_bm")" "ratio<=1.10" \
    "$(met "a / b <= 1.10" "$p50_ba" "$p50_bm")"
fi
w2k() {
  fmt1 "$(kv "$work/$1.kv" "small.$2.p50_us")"
}
# The target: the library within 5% of the guarantees' own system calls.
fr=$(calc "$ratio" "$(kv "$work/w2f.kv" small.floor.p50_us)" \
  "$(kv "$work/w2f.kv" small.minimal.p50_us)")
a=$(w2k w2 afile) m=$(w2k w2 minimal)
w2met=n/a
[[ $fr != n/a ]] && w2met=$(met "a / b <= $fr * 1.05" "$a" "$m")
row "W2 no-sync p50 (us) vs minimal" "$a" "$m" "$(calc "$ratio" "$a" "$m")" \
  "<=floor*1.05" "$w2met"
a=$(w2k w2f floor) m=$(w2k w2f minimal)
row "  guarantees by hand (floor) vs minimal" "$a" "$m" "$(calc "$ratio" "$a" "$m")" \
  "(none)" "-"
row "small replace syncs/op vs minimal" "$sync_a" "$sync_m" \
  "$(calc "$ratio" "$sync_a" "$sync_m")" "<=peer" \
  "$(met "a <= b" "$sync_a" "$sync_m")"
row "small replace syscalls/op vs minimal" "$sys_a" "$sys_m" \
  "$(calc "$ratio" "$sys_a" "$sys_m")" "<=peer" \
  "$(met "a <= b" "$sys_a" "$sys_m")"
if ((dirsize > 0)); then
  row "  in a dir of $dirsize files" "$sys_big" "$sys_m" \
    "$(calc "$ratio" "$sys_big" "$sys_m")" "<=peer" \
    "$(met "a <= b" "$sys_big" "$sys_m")"
fi
row "stream ${stream_mb}MiB CLI MB/s vs dd" "$mbps_cli" "$mbps_dd" \
  "$(calc "$ratio" "$mbps_cli" "$mbps_dd")" "ratio>=0.90" \
  "$(met "a / b >= 0.90" "$mbps_cli" "$mbps_dd")"
row "stream ${stream_mb}MiB writer MB/s vs dd" "$mbps_lib" "$mbps_dd" \
  "$(calc "$ratio" "$mbps_lib" "$mbps_dd")" "ratio>=0.90" \
  "$(met "a / b >= 0.90" "$mbps_lib" "$mbps_dd")"
row "  the same with size_hint MB/s vs dd" "$mbps_hint" "$mbps_dd" \
  "$(calc "$ratio" "$mbps_hint" "$mbps_dd")" "ratio>=0.90" \
  "$(met "a / b >= 0.90" "$mbps_hint" "$mbps_dd")"
row "stream CLI peak RSS (MiB) vs dd" "$rss_cli" "$rss_dd" \
  "$(calc "$ratio" "$rss_cli" "$rss_dd")" "<16MiB" \
  "$(met "a < 16" "$rss_cli" "$rss_dd")"
row "stream writer peak RSS (MiB) vs dd" "$rss_lib" "$rss_dd" \
  "$(calc "$ratio" "$rss_lib" "$rss_dd")" "<16MiB" \
  "$(met "a < 16" "$rss_lib" "$rss_dd")"
row "  the same with size_hint (MiB) vs dd" "$rss_hint" "$rss_dd" \
  "$(calc "$ratio" "$rss_hint" "$rss_dd")" "<16MiB" \
  "$(met "a < 16" "$rss_hint" "$rss_dd")"
bk() {
  fmt1 "$(kv "$work/batch.kv" "batch.$1.$2")"
}
b_sep=$(bk separate median_ms)
b_many=$(bk many median_ms)
b_txn=$(bk txn median_ms)
b_sql=$(bk sqlite median_ms)
b_nock=$(bk sqlite_nockpt median_ms)
b_sync_sep=$(bk separate syncs_per_batch)
b_sync_many=$(bk many syncs_per_batch)
b_sync_txn=$(bk txn syncs_per_batch)
m_each=$(bk fsync_each median_ms)
m_fs=$(bk syncfs median_ms)
m_ur=$(bk uring median_ms)
m_each_d=$(bk fsync_each_dirty median_ms)
m_fs_d=$(bk syncfs_dirty median_ms)
# The best thread count of this run (lowest median).
m_thr=n/a
m_thr_name=threads
if [[ -s $work/batch.kv ]]; then
  read -r m_thr_name m_thr < <(awk '
    $1 ~ /^batch\.threads_[0-9]+\.median_ms$/ {
      split($1, p, "."); if (best == "" || $2 + 0 < best + 0) { best = $2; n = p[2] } }
    END { if (best == "") print "threads n/a"; else print n, best }' "$work/batch.kv")
  m_thr=$(fmt1 "$m_thr")
  m_thr_name=${m_thr_name/_/-}
fi
ten='ratio<=0.10'
row "batch $batch_n write_many ms vs separate" "$b_many" "$b_sep" \
  "$(calc "$ratio" "$b_many" "$b_sep")" "$ten" \
  "$(met "a / b <= 0.10" "$b_many" "$b_sep")"
row "batch $batch_n txn ms vs separate" "$b_txn" "$b_sep" \
  "$(calc "$ratio" "$b_txn" "$b_sep")" "$ten" \
  "$(met "a / b <= 0.10" "$b_txn" "$b_sep")"
row "batch $batch_n write_many ms vs sqlite" "$b_many" "$b_sql" \
  "$(calc "$ratio" "$b_many" "$b_sql")" "ratio<=3.00" \
  "$(met "a / b <= 3.0" "$b_many" "$b_sql")"
row "batch $batch_n txn ms vs sqlite" "$b_txn" "$b_sql" \
  "$(calc "$ratio" "$b_txn" "$b_sql")" "ratio<=3.00" \
  "$(met "a / b <= 3.0" "$b_txn" "$b_sql")"
row "  txn vs sqlite, checkpoint untimed" "$b_txn" "$b_nock" \
  "$(calc "$ratio" "$b_txn" "$b_nock")" "(none)" "-"
row "batch syncs: write_many vs separate" "$b_sync_many" "$b_sync_sep" \
  "$(calc "$ratio" "$b_sync_many" "$b_sync_sep")" "(none)" "-"
row "batch syncs: txn vs separate" "$b_sync_txn" "$b_sync_sep" \
  "$(calc "$ratio" "$b_sync_txn" "$b_sync_sep")" "(none)" "-"
row "sync $batch_n temps ms: syncfs vs fsync" "$m_fs" "$m_each" \
  "$(calc "$ratio" "$m_fs" "$m_each")" "(none)" "-"
row "  syncfs vs fsync from $m_thr_name" "$m_fs" "$m_thr" \
  "$(calc "$ratio" "$m_fs" "$m_thr")" "(none)" "-"
row "  syncfs vs io_uring fsync" "$m_fs" "$m_ur" \
  "$(calc "$ratio" "$m_fs" "$m_ur")" "(none)" "-"
if ((batch_dirty > 0)); then
  row "  with ${batch_dirty}MiB unrelated dirty data" "$m_fs_d" "$m_each_d" \
    "$(calc "$ratio" "$m_fs_d" "$m_each_d")" "(none)" "-"
fi
pk() {
  fmt1 "$(kv "$work/patch.kv" "patch.$1.$2")"
}
p_ip=$(pk inplace median_us)
p_cp=$(pk copy median_us)
p_sql=$(pk sqlite median_us)
p_pt=$(pk patcher median_us)
row "W5 afile_patch in place (us) vs sqlite" "$p_ip" "$p_sql" \
  "$(calc "$ratio" "$p_ip" "$p_sql")" "ratio<=1.00" \
  "$(met "a / b <= 1.0" "$p_ip" "$p_sql")"
# The patcher keeps its descriptors open, as SQLite keeps its connection.
row "W5 patcher, kept open (us) vs sqlite" "$p_pt" "$p_sql" \
  "$(calc "$ratio" "$p_pt" "$p_sql")" "ratio<=1.00" \
  "$(met "a / b <= 1.0" "$p_pt" "$p_sql")"
row "W5 patch by copy (us) vs sqlite" "$p_cp" "$p_sql" \
  "$(calc "$ratio" "$p_cp" "$p_sql")" "(none)" "-"
row "W5 in place syncs/op, syscalls/op" "$(pk inplace syncs_per_op)" "$ip_sys" "" "syncs<=3" \
  "$(met "a <= 3" "$(pk inplace syncs_per_op)" 1)"
row "W5 patcher syncs/op, syscalls/op" "$(pk patcher syncs_per_op)" "$pt_sys" "" "syncs<=3" \
  "$(met "a <= 3" "$(pk patcher syncs_per_op)" 1)"
tk() {
  fmt1 "$(kv "$work/$1.kv" "$2")"
}
for w in t1 t2; do
  a=$(tk $w small.afile.p50_us) m=$(tk $w small.minimal.p50_us)
  label="W1 tmpfs durable p50 (us) vs minimal"
  [[ $w == t2 ]] && label="W2 tmpfs no-sync p50 (us) vs minimal"
  row "$label" "$a" "$m" "$(calc "$ratio" "$a" "$m")" "ratio<=1.20" \
    "$(met "a / b <= 1.20" "$a" "$m")"
done
a=$(tk t2f small.floor.p50_us) m=$(tk t2f small.minimal.p50_us)
row "  tmpfs guarantees by hand (floor) vs minimal" "$a" "$m" \
  "$(calc "$ratio" "$a" "$m")" "(none)" "-"
a=$(tk t3 small.afile.p50_us) m=$(tk t3 small.minimal.p50_us)
row "W3 tmpfs write_many $batch_n (us) vs minimal" "$a" "$m" \
  "$(calc "$ratio" "$a" "$m")" "ratio<=1.20" "$(met "a / b <= 1.20" "$a" "$m")"
for w in w1 w2 w3; do
  a=$(<"$work/tsys.$w.afile") m=$(<"$work/tsys.$w.minimal")
  label="${w^^} tmpfs syscalls/op vs minimal"
  [[ $w == w3 ]] && label="W3 tmpfs syscalls/file vs minimal"
  row "$label" "$a" "$m" "$(calc "$ratio" "$a" "$m")" "(none)" "-"
done
tb_many=$(tk tbatch batch.many.median_ms)
tb_sep=$(tk tbatch batch.separate.median_ms)
row "tmpfs batch $batch_n write_many ms vs separate" "$tb_many" "$tb_sep" \
  "$(calc "$ratio" "$tb_many" "$tb_sep")" "(none)" "-"
row "CLI cp per process (us) vs cp" "$(fmt1 "$cli_cp_us")" "$(fmt1 "$cp_us")" \
  "$(calc "$ratio" "$cli_cp_us" "$cp_us")" "ratio<=1.00" \
  "$(met "a / b <= 1.0" "$cli_cp_us" "$cp_us")"
row "CLI --version per process vs true" "$(fmt1 "$cli_ver_us")" "$(fmt1 "$true_us")" \
  "$(calc "$ratio" "$cli_ver_us" "$true_us")" "+<=300us" \
  "$(met "a - b <= 300" "$cli_ver_us" "$true_us")"
row "CLI --version per process vs static true" "$(fmt1 "$cli_ver_us")" "$(fmt1 "$strue_us")" \
  "$(calc "$ratio" "$cli_ver_us" "$strue_us")" "+<=300us" \
  "$(met "a - b <= 300" "$cli_ver_us" "$strue_us")"
echo
echo "Times are machine-dependent; compare ratios, measured side by side in"
echo "this run.  'n/a' means the variant could not run (see the notes above)."
