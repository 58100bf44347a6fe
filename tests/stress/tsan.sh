#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tsan.sh - run the stress tests under ThreadSanitizer.
#
# A sanitizer is a whole-build setting, so this configures a build tree of
# its own from the project's top-level CMakeLists.txt with
# -DAFILE_SANITIZE=thread, builds only the stress tests (target
# afile_stress_all) and runs "ctest -L stress" there.  Registered as the
# CTest test stress-tsan (label tsan); CI runs "ctest -L tsan".  The build
# tree is kept, so that a second run only rebuilds what changed.
#
# Usage: tsan.sh BUILD_DIR SOURCE_DIR [C_COMPILER]
#
# Exits 77 with a loud SKIP when this toolchain cannot build and run a
# ThreadSanitizer program, unless AFILE_REQUIRE_PRIV_TESTS=1 (CI), where
# that is a failure.
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR [C_COMPILER]" >&2
	exit 2
fi
build=$1
src=$2
cc=${3:-${CC:-cc}}

skip() {
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-}" = 1 ]; then
		echo "FAIL: cannot run (AFILE_REQUIRE_PRIV_TESTS=1): $1" >&2
		exit 1
	fi
	echo "SKIP: $1" >&2
	exit 77
}

# Probe: some kernels (large mmap randomisation) or toolchains cannot run
# TSan at all; say so instead of failing on every test.
probe=$(mktemp -d "${TMPDIR:-/tmp}/afile-tsan.XXXXXX")
trap 'rm -rf "$probe"' EXIT
cat >"$probe/t.c" <<'EOF'
#include <pthread.h>
static void *f(void *p) { return p; }
int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }
EOF
if ! "$cc" -fsanitize=thread -pthread "$probe/t.c" -o "$probe/t" \
	>"$probe/log" 2>&1 || ! "$probe/t" >>"$probe/log" 2>&1; then
	cat "$probe/log" >&2
	skip "$cc cannot build or run a ThreadSanitizer program"
fi

cmake -S "$src" -B "$build" \
	-DCMAKE_C_COMPILER="$cc" \
	-DAFILE_SANITIZE=thread \
	-DAFILE_BUILD_TOOLS=OFF \
	-DAFILE_WERROR=ON >"$probe/configure.log" 2>&1 ||
	{ cat "$probe/configure.log" >&2; exit 1; }
cmake --build "$build" --target afile_stress_all -j "$(nproc)"

# A report is a failure, with both stacks of a lock-order problem.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
ctest --test-dir "$build" -L stress --output-on-failure
