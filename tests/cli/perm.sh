# perm.sh - permission failures and --allow-owner-change, run as an
# unprivileged user (uid/gid 65534).  Needs root to switch users: skips
# (exit 77) when not root, fails instead under AFILE_REQUIRE_PRIV_TESTS=1.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		fail "AFILE_REQUIRE_PRIV_TESTS=1 but not root or no setpriv"
	fi
	echo "SKIP: needs root and setpriv(1) to run as an unprivileged user"
	exit 77
fi
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
# The unprivileged user must reach the tool and the work directory.  When
# the build directory is private, run a copy of the tool and its library.
chmod 755 "$WORK" "$T"
if ! nobody "$AF" --version >/dev/null 2>&1; then
	mkdir "$WORK/bin"
	cp "$AF" "$WORK/bin/atomicfile"
	# Ask the tool's own loader (ldd is glibc's: it cannot list a musl
	# program): "libatomicfile.so.0 => /path (0x...)", the path may hold
	# spaces.
	interp=$(readelf -l "$AF" 2>/dev/null |
		sed -n 's|.*Requesting program interpreter: \(.*\)]$|\1|p')
	lib=$({ "${interp:-ldd}" --list "$AF" 2>/dev/null || ldd "$AF"; } |
		sed -n 's|^[[:space:]]*libatomicfile[^ ]* => \(/.*\) (0x[0-9a-f]*)$|\1|p')
	[ -z "$lib" ] || cp "$lib" "$WORK/bin/"
	chmod -R a+rX "$WORK/bin"
	AF=$WORK/bin/atomicfile
	export LD_LIBRARY_PATH=$WORK/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if ! nobody "$AF" --version >/dev/null 2>&1; then
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		fail "uid 65534 cannot run $AF"
	fi
	echo "SKIP: uid 65534 cannot run $AF"
	exit 77
fi

# A root-owned 0755 directory: no write permission.
mkdir ro
chmod 755 ro
printf 'root\n' >ro/f
chmod 666 ro/f
printf 'new\n' | run 1 nobody "$AF" write ro/f
expect_err_re "^atomicfile: write 'ro/f': (.+: )?Permission denied$"
expect_content ro/f "root
"
printf 'new\n' | run 1 nobody "$AF" create ro/g
expect_err_re "^atomicfile: create 'ro/g': (.+: )?Permission denied$"
[ ! -e ro/g ] || fail "refused create made ro/g"
run 1 nobody "$AF" rm ro/f
expect_err_re "^atomicfile: rm 'ro/f': (.+: )?Permission denied$"
[ -e ro/f ] || fail "refused rm removed ro/f"
printf src >src
chmod 644 src
run 1 nobody "$AF" cp src ro/c
expect_err_re "^atomicfile: cp 'ro/c': (.+: )?Permission denied$"
printf x | run 1 nobody "$AF" patch --offset=0 ro/f
expect_err_re "^atomicfile: patch 'ro/f': (.+: )?Permission denied$"
expect_content ro/f "root
"
printf 'secret\n' >secret
chmod 600 secret
run 1 nobody "$AF" cat secret
expect_err_re "^atomicfile: cat 'secret': (.+: )?Permission denied$"
[ ! -s "$O/out" ] || fail "refused cat printed something"
printf x | run 1 nobody "$AF" write -q ro/f
expect_no_err
no_temps ro

# A writable directory holding a root-owned file: replacing it would give
# it to uid 65534, so it is refused unless --allow-owner-change.
mkdir rw
chmod 777 rw
printf 'root-owned\n' >rw/f
chmod 666 rw/f
printf 'new\n' | run 1 nobody "$AF" write rw/f
expect_err_re "^atomicfile: write 'rw/f': (.+: )?Operation not permitted$"
expect_content rw/f "root-owned
"
[ "$(stat -c %u rw/f)" = 0 ] || fail "refused write changed the owner"
printf 'new\n' | run 0 nobody "$AF" write --allow-owner-change rw/f
expect_content rw/f "new
"
[ "$(stat -c %u:%g rw/f)" = 65534:65534 ] ||
	fail "--allow-owner-change: expected owner 65534:65534, got $(stat -c %u:%g rw/f)"
expect_mode rw/f 666
no_temps rw
echo "PASS"
