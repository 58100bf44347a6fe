#!/usr/bin/env bash
# check-install.sh SRCDIR BUILDDIR [CC] - install the library into a
# temporary prefix and build a consumer with find_package(atomicfile) and
# with pkg-config atomicfile, then run both.  CC is the compiler the
# library was built with (musl-gcc, say; default cc).
set -euo pipefail
src=$1 build=$2 cc=${3:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The man pages of every section go in: 1 (the tool), 3, 7 (file systems).
for page in man1/atomicfile.1 man3/afile_probe.3 man7/atomicfile.7; do
  [ -f "$work/prefix/share/man/$page" ] || {
    echo "check-install: share/man/$page was not installed" >&2
    exit 1
  }
done
# A sanitized library (CI) pulls the ASan runtime in after libc into a
# consumer built without it: tell ASan that this is intended.
export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0
# Relocatable: the package must work from wherever the prefix is moved.
mv "$work/prefix" "$work/moved"
prefix=$work/moved

mkdir -p "$work/consumer"
cat >"$work/consumer/main.c" <<'C'
#include <atomicfile.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	void *buf;
	size_t len;
	int r = afile_write(AT_FDCWD, "out.txt", "installed\n", 10, 0, NULL);

	if (r == 0)
		r = afile_read(AT_FDCWD, "out.txt", &buf, &len, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "consumer: %s\n", afile_strerror(r));
		return 1;
	}
	r = len == 10 && !memcmp(buf, "installed\n", 10) ? 0 : 1;
	free(buf);
	printf("consumer: libatomicfile %s\n", afile_version());
	return r;
}
C
cat >"$work/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(consumer C)
find_package(atomicfile 0.1 CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE atomicfile::atomicfile)
CM
cmake -S "$work/consumer" -B "$work/cbuild" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_RPATH="$prefix/lib;$prefix/lib64;$prefix/lib/x86_64-linux-gnu" >/dev/null
cmake --build "$work/cbuild" >/dev/null
(cd "$work" && "$work/cbuild/consumer")
echo "ok: find_package(atomicfile)"

pcdir=$(dirname "$(find "$prefix" -name atomicfile.pc | head -1)")
export PKG_CONFIG_PATH=$pcdir
# The .pc file is relocatable: point pkg-config's prefix at the new place.
flags=$(pkg-config --define-prefix --cflags --libs atomicfile)
libdir=$(pkg-config --define-prefix --variable=libdir atomicfile)
# shellcheck disable=SC2086 # flags is a list of options
"$cc" -o "$work/pc-consumer" "$work/consumer/main.c" $flags -Wl,-rpath,"$libdir"
(cd "$work" && rm -f out.txt && "$work/pc-consumer")
echo "ok: pkg-config atomicfile"
