#!/usr/bin/env bash
# scripts/packages.sh - build and test what ships beside the C library:
# the Python package (bindings/python: a venv on Debian's python3, pip
# without build isolation, pytest), the Node.js package (bindings/node:
# npm install from the npm registry, node --test) and the Debian packages
# (dpkg-buildpackage in a copy of the tree, then lintian).  scripts/test.sh
# runs it after the main suite; the packages it needs are in test.sh's
# list.  Node.js and npm come with the machine image, not from apt.
#
# Environment: PKG_BUILD_DIR (default build-pkg), PKG_ONLY (python, node
# or deb: just that one).  Exit status: non-zero if any part fails.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=${PKG_BUILD_DIR:-build-pkg}
only=${PKG_ONLY:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
start=$(date +%s)
failed=()

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if want python; then
	echo "== python package (bindings/python)"
	py=/usr/bin/python3
	rm -rf "$out/venv" bindings/python/build
	if "$py" -m venv --system-site-packages "$out/venv" &&
		"$out/venv/bin/pip" install -q --no-build-isolation ./bindings/python &&
		"$out/venv/bin/python" -m pytest -q -p no:cacheprovider bindings/python; then
		echo "ok: python package"
	else
		failed+=(python)
	fi
fi

if want node; then
	echo "== node package (bindings/node, $(node --version 2>/dev/null || echo 'no node'))"
	if (cd bindings/node && JOBS=$(nproc) npm install --no-audit --no-fund --loglevel=error &&
		npm test 2>&1 | tail -n 12 && [ "${PIPESTATUS[0]}" = 0 ]); then
		echo "ok: node package"
	else
		failed+=(node)
	fi
fi

if want deb; then
	echo "== debian packages (debian/)"
	# dpkg-buildpackage writes its .debs beside the tree: build a copy of
	# the tracked files in $out, never in the checkout's parent.
	rm -rf "$out/deb"
	mkdir -p "$out/deb/atomicfile"
	git ls-files -z | tar --null -cf - -T - | tar -xf - -C "$out/deb/atomicfile"
	if (cd "$out/deb/atomicfile" &&
		DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b \
			>"$out/deb/build.log" 2>&1) &&
		lintian --fail-on error "$out"/deb/*.changes; then
		ls "$out"/deb/*.deb
		echo "ok: debian packages"
	else
		tail -n 30 "$out/deb/build.log" >&2 || :
		failed+=(deb)
	fi
fi

echo "== packages took $(($(date +%s) - start)) s"
cd "$top"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAIL: packages: ${failed[*]}; rerun: PKG_ONLY=${failed[0]} scripts/packages.sh" >&2
	exit 1
fi
