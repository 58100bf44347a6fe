#!/usr/bin/env bash
# scripts/coverage.sh - build with gcov instrumentation, run the CTest
# suite, print a gcovr report of src/ (lines and branches per file) and
# enforce the branch-coverage gate.  scripts/test.sh runs it last, so CI
# prints the report.
#
# src/sys.c and src/wrap.c are excluded: the thin table of system calls
# and its wrappers, that tests replace (fault shims, simulator), so their
# error branches are the kernel's, not the library's.  Branches gcc generates on lines without
# source code are excluded too (--exclude-unreachable-branches).
#
# Not run here: the musl build (musl-cli, label musl: another tree), the
# TSan sub-build (stress-tsan builds its own tree without instrumentation, and the same stress tests run in this build), the
# libFuzzer target (fuzz-journal is built by clang outside this build, so
# it adds no counts), check-docs (libgcov, linked into the shared library,
# exports symbols without the afile_ prefix) and the kill -9 loops that
# drive the CLI (cli-kill9, realfs-kill9-*): together they took 7.5 of
# 9.5 minutes here and added 2 branches, which tests/unit/test_edges.c now
# covers; and the simfs-ace shards (about 2.5 CPU-minutes here for 2
# branches of txn.c: 90.80% with them, 90.70% without, measured
# 2026-11-27); and the GlusterFS cross-client suite (gluster: over a
# minute of glusterd set-up and FUSE round trips; view.c and probe.c get
# their counts from unit-view, unit-probe and realfs-probe-*).  The main
# ASan run of scripts/test.sh runs all of them.
#
# Environment: COV_BUILD_DIR (default build-cov), JOBS (default: nproc),
# COV_BRANCH_MIN (the gate, percent; default below), COV_EXCLUDE (ctest -E
# regex of tests not run here; default below), COV_INCLUDE (ctest -R regex
# of the tests to run, default all; the gate still applies).  Exit status: non-zero if a
# test fails or branch coverage is below the gate.
set -euo pipefail
cd "$(dirname "$0")/.."

# Start where the code is, raise it as tests are added; 100 is the goal.
# Back to 90 on 2026-12-06.  It had been lowered to 87 when probe.c,
# view.c, inplace.c and syncmany.c landed with few branch tests (87.61%,
# 2298/2623).  With their tests (unit-probe, unit-view, unit-syncmany,
# unit-inplace, unit-lock, unit-edges), `COV_BUILD_DIR=build-cov
# scripts/coverage.sh` measured 92.39% (2440/2641; probe.c 98%, view.c
# 97%, syncmany.c 94%, inplace.c 88%) on 2026-12-06; the margin above 90
# is for code that lands with fewer tests than the rest.
gate=${COV_BRANCH_MIN:-90}
build=${COV_BUILD_DIR:-build-cov}
jobs=${JOBS:-$(nproc)}
include=${COV_INCLUDE:-.}
exclude=${COV_EXCLUDE:-^(check-docs|cli-kill9|realfs-kill9-.*|simfs-ace-[0-9]+|gluster)$}
start=$(date +%s)

command -v gcovr >/dev/null 2>&1 || {
	echo "FAIL: coverage: gcovr not found (Debian: apt-get install gcovr)" >&2
	exit 1
}

echo "== coverage build ($build)"
# AFILE_SANITIZE is cleared in case the directory was configured before.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAFILE_WERROR=ON \
	-DAFILE_SANITIZE= -DAFILE_COVERAGE=ON
cmake --build "$build" -j "$jobs"

# Counters start from zero.  Tests that drop privileges (cli-perm runs
# the tool as uid 65534) must be able to add their counts, also when the
# build directory is out of that user's reach (a checkout in root's 0700
# home).  So libgcov writes every .gcda under GCOV_PREFIX, a tree in /tmp
# that everyone can traverse, where each file exists beforehand, empty
# (libgcov treats an empty file as new) and writable by all; after the
# run the counts are moved back beside their .gcno files for gcovr.  The
# .gcda paths are the ones compiled into the instrumented binaries.
find "$build" -name '*.gcda' -delete
umask 022
gcov_dir=$(mktemp -d /tmp/afile-gcov.XXXXXX)
gcda_list=$gcov_dir.list
trap 'rm -rf "$gcov_dir" "$gcda_list"' EXIT
find "$build" -type f \( -perm -u+x -o -name '*.so*' -o -name '*.a' \) \
	-print0 | xargs -0 grep -aoh '/[[:print:]]*\.gcda' | sort -u >"$gcda_list"
[ -s "$gcda_list" ] || {
	echo "FAIL: coverage: no instrumented binary in $build" >&2
	exit 1
}
while IFS= read -r f; do
	mkdir -p "$gcov_dir${f%/*}"
	: >"$gcov_dir$f"
	chmod 0666 "$gcov_dir$f"
done <"$gcda_list"
chmod 755 "$gcov_dir"
export GCOV_PREFIX=$gcov_dir

echo "== coverage tests"
rc=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" \
	-LE '^(tsan|fuzz|musl)$' -R "$include" -E "$exclude" || rc=$?

unset GCOV_PREFIX
while IFS= read -r f; do
	[ ! -s "$gcov_dir$f" ] || mv "$gcov_dir$f" "$f"
done <"$gcda_list"

echo "== coverage of src/ (src/sys.c, src/wrap.c excluded: syscall table and wrappers)"
json=$build/coverage.json
gcovr -r . --filter 'src/' --exclude 'src/(sys|wrap)\.c' \
	--exclude-unreachable-branches --json "$json" "$build"
gcovr -r . -a "$json" --txt
grc=0
gcovr -r . -a "$json" --txt --branches --fail-under-branch "$gate" || grc=$?

echo "== coverage phase took $(($(date +%s) - start)) s"
if [ "$rc" != 0 ]; then
	echo "FAIL: coverage: a test failed in the coverage build;" \
		"rerun: scripts/coverage.sh (build dir $build)" >&2
	exit 1
fi
if [ "$grc" != 0 ]; then
	echo "FAIL: coverage: branch coverage of src/ is below the gate of" \
		"$gate%; rerun: scripts/coverage.sh" >&2
	exit 1
fi
echo "ok: branch coverage of src/ meets the gate of $gate%"
