#!/usr/bin/env bash
# scripts/test.sh - install what the tests need, build with -Werror and
# ASan+UBSan, and run the whole CTest suite (with musl-cli: the CLI built
# with musl); then scripts/packages.sh (the Python and Node.js packages and
# their tests, the Debian packages and lintian); then scripts/coverage.sh
# (a gcov build, the gcovr report of src/ and the branch-coverage gate).
# This is the README's test command, and exactly what CI (.ci/run) runs.
#
# Environment: BUILD_DIR (default build-test), COV_BUILD_DIR (default
# build-cov), PKG_BUILD_DIR (default build-pkg), JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(cmake gcc g++ make pkg-config libcmocka-dev clang libclang-rt-14-dev e2fsprogs xfsprogs
  btrfs-progs acl attr mandoc util-linux strace gcovr glusterfs-server glusterfs-client musl-tools
  python3-dev python3-setuptools python3-venv python3-pytest python3-pip
  dpkg-dev debhelper lintian bash-completion fuse3 libfuse3-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "== missing packages (run as root to install): ${missing[*]}" >&2
  fi
fi

build=${BUILD_DIR:-build-test}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DAFILE_WERROR=ON \
  -DAFILE_SANITIZE="address;undefined"
cmake --build "$build" -j "$jobs"
# Root bypasses permission checks; the tests drop privileges themselves
# where they need an unprivileged caller.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  ctest --test-dir "$build" --output-on-failure -j "$jobs"

# What the crash, fault and kill harnesses checked: their summary lines
# (ctest shows a passing test's output only in its log).
echo "== evidence (summary lines from $build/Testing/Temporary/LastTest.log)"
grep -hE '^(simfs-[a-z0-9 /-]+:|powercut-[a-z0-9-]+:|kill9[a-z0-9-]*:|recover-faults:|fuzz-journal:|# [0-9]+ (fault-injection runs|states checked))' \
  "$build/Testing/Temporary/LastTest.log" | cut -c1-700 || true

# The packages beside the library (bindings/python, bindings/node,
# debian/).  Node.js and npm come with the machine image.
PKG_BUILD_DIR=${PKG_BUILD_DIR:-build-pkg} ./scripts/packages.sh

# Last: the coverage build, its report of src/ and the branch gate.
COV_BUILD_DIR=${COV_BUILD_DIR:-build-cov} JOBS=$jobs ./scripts/coverage.sh
