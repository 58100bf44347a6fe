#!/usr/bin/env bash
# musl.sh BUILD_DIR SRC_DIR - build the library and the CLI with musl
# (Debian's musl-tools: musl-gcc, as on Alpine Linux) and run the CLI
# tests against that tool.  The cmocka tiers need glibc's cmocka and the
# simulator glibc's strerrorname_np(): the musl build leaves them out.
#
# musl-gcc sees no kernel headers (Alpine has them in linux-headers), so
# the probes for openat2, FICLONE and friends would fail and only the
# fallbacks be built: a directory of links to the system's kernel headers
# is put on its system include path (C_INCLUDE_PATH), as an Alpine build
# with linux-headers has.
# Skips (77) without musl-gcc unless AFILE_REQUIRE_PRIV_TESTS=1 (CI).
set -euo pipefail
build=$1 src=$2

if ! command -v musl-gcc >/dev/null 2>&1; then
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		echo "FAIL: musl-gcc not found (Debian: apt-get install musl-tools)" >&2
		exit 1
	fi
	echo "SKIP: musl-gcc not found (Debian: musl-tools)"
	exit 77
fi

mkdir -p "$build/khdr"
arch=$(gcc -print-multiarch 2>/dev/null || :)
for d in linux asm-generic; do
	[ ! -d "/usr/include/$d" ] || ln -sfn "/usr/include/$d" "$build/khdr/$d"
done
if [ -n "$arch" ] && [ -d "/usr/include/$arch/asm" ]; then
	ln -sfn "/usr/include/$arch/asm" "$build/khdr/asm"
fi

# C_INCLUDE_PATH (as -isystem), not CFLAGS: the build directory's path
# may hold spaces, which CMake would split a flag at.  Exported for the
# ctest run below too (check-header and check-install compile).
export C_INCLUDE_PATH=$build/khdr${C_INCLUDE_PATH:+:$C_INCLUDE_PATH}
# AFILE_STATIC_CLI=OFF: Debian's musl-gcc accepts -static-pie but still
# links against ld-musl, and the check below wants musl's loader anyway.
CC=musl-gcc cmake -S "$src" -B "$build" -DCMAKE_C_FLAGS= \
	-DCMAKE_BUILD_TYPE=Debug -DAFILE_WERROR=ON -DBUILD_TESTING=ON \
	-DAFILE_STATIC_CLI=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target atomicfile atomicfile-cli \
	afile_cli_failsync afile_cli_ofdhold >/dev/null
# The tool is musl's: no glibc in its loader's list.
if ! readelf -l "$build/tools/atomicfile/atomicfile" | grep -q 'ld-musl'; then
	echo "FAIL: $build/tools/atomicfile/atomicfile is not linked with musl" >&2
	exit 1
fi
# Every CLI test but the kill -9 sweep (minutes, and libc-independent:
# strace drives it), and the checks that apply to a musl build.
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" \
	-R '^(cli-.*|check-(syscalls|header|install))$' -E '^cli-kill9$'
