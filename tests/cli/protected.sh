# protected.sh - sticky world-writable directories (issue 13): another user
# (uid 65534) plants a symlink, a file, a lock sidecar or a journal
# directory, and root's command must refuse as the kernel would
# (fs.protected_symlinks, fs.protected_regular, fs.protected_fifos) instead
# of following, reusing or replaying it.  The switches are set for the test
# and restored on exit.  Needs root: skips (exit 77) when not root, fails
# instead under AFILE_REQUIRE_PRIV_TESTS=1.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
	[ ! -w /proc/sys/fs/protected_symlinks ] ||
	[ ! -w /proc/sys/fs/protected_regular ] ||
	[ ! -w /proc/sys/fs/protected_fifos ]; then
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		fail "AFILE_REQUIRE_PRIV_TESTS=1 but not root, no setpriv or no writable fs.protected_*"
	fi
	echo "SKIP: needs root, setpriv(1) and writable /proc/sys/fs/protected_*"
	exit 77
fi
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# Set the switches for this test; put the machine's values back on exit.
saved=""
for k in symlinks regular fifos; do
	saved="$saved $k=$(cat /proc/sys/fs/protected_$k)"
done
restore() {
	local kv
	for kv in $saved; do
		echo "${kv#*=}" >"/proc/sys/fs/protected_${kv%%=*}" || :
	done
	cleanup
}
trap restore EXIT
prot() { # prot symlinks|regular|fifos VALUE
	echo "$2" >"/proc/sys/fs/protected_$1"
}
prot symlinks 1
prot regular 1
prot fifos 1

chmod 755 "$WORK" "$T"
mkdir s
chmod 1777 s # like /tmp
printf 'root only\n' >secret
chmod 600 secret
printf 'src\n' >src

# 1. A planted symlink: the kernel would not follow it, nor does the library.
nobody ln -s ../secret s/planted
printf 'evil\n' | run 1 "$AF" write s/planted
expect_err_re "^atomicfile: write 's/planted': follow symlink \(fs\.protected_symlinks\): .*planted by another user"
expect_content secret "root only
"
run 1 "$AF" cp src s/planted
expect_err_re "protected_symlinks"
expect_content secret "root only
"
printf 'x' | run 1 "$AF" patch --offset=0 s/planted
expect_err_re "protected_symlinks"
run 1 "$AF" lock s/planted -- true
expect_err_re "protected_symlinks"
[ ! -e .secret.afile-lock ] || fail "a lock sidecar was made beside secret"
printf 'evil\n' | run 1 "$AF" write --lock s/planted
expect_err_re "protected_symlinks"
expect_content secret "root only
"
no_temps s
no_temps .
# The library's own switch is the kernel's: off, the link is followed.
prot symlinks 0
printf 'followed\n' | run 0 "$AF" write s/planted
expect_content secret "followed
"
prot symlinks 1
# Links of the caller or of the directory's owner are followed.
ln -s ../secret s/own
printf 'own\n' | run 0 "$AF" write s/own
expect_content secret "own
"
# A planted link in a directory that is not sticky is followed (the
# kernel's rule is about sticky world-writable directories only).
mkdir n
chmod 777 n
nobody ln -s ../secret n/link
printf 'plain\n' | run 0 "$AF" write n/link
expect_content secret "plain
"

# 2. A planted file: root's data must not go to its owner.
printf 'planted\n' | nobody tee s/report.txt >/dev/null
chmod 666 s/report.txt
printf 'secret data\n' | run 1 "$AF" write s/report.txt
expect_err_re "^atomicfile: write 's/report.txt': refuse file planted by another user \(fs\.protected_regular\): "
expect_content s/report.txt "planted
"
[ "$(stat -c %u:%a s/report.txt)" = 65534:666 ] || fail "refused write changed s/report.txt"
run 1 "$AF" cp src s/report.txt
expect_err_re "protected_regular"
printf 'x' | run 1 "$AF" patch --offset=0 s/report.txt
expect_err_re "protected_regular"
run 1 "$AF" txn -C s put report.txt "$T/src"
expect_err_re "protected_regular"
expect_content s/report.txt "planted
"
no_temps s
# A sticky directory writable by its group only: protected_regular=2 too.
mkdir g
chown 0:65534 g
chmod 1770 g
printf 'g\n' | nobody tee g/f >/dev/null
printf 'new\n' | run 0 "$AF" write g/f
[ "$(stat -c %u g/f)" = 65534 ] || fail "g/f: the owner was not kept"
prot regular 2
printf 'newer\n' | run 1 "$AF" write g/f
expect_err_re "protected_regular"
expect_content g/f "new
"
prot regular 0
printf 'off\n' | run 0 "$AF" write s/report.txt
prot regular 1

# 3. Not sticky: root editing a user's file keeps that user's owner and mode.
printf 'user\n' >n/mine
chown 65534:65534 n/mine
chmod 640 n/mine
printf 'edited\n' | run 0 "$AF" write n/mine
expect_content n/mine "edited
"
[ "$(stat -c %u:%g:%a n/mine)" = 65534:65534:640 ] ||
	fail "n/mine: expected 65534:65534:640, got $(stat -c %u:%g:%a n/mine)"

# 4. Lock sidecars planted in a sticky directory.
printf 'v\n' >s/f
nobody mkfifo s/.f.afile-lock
run 1 timeout 60 "$AF" lock s/f -- true
expect_err_re "^atomicfile: lock 's/f': lock: not a regular file$"
run 1 timeout 60 "$AF" lock --shared s/f -- true
expect_err_re "not a regular file"
rm s/.f.afile-lock
nobody ln -s ../secret s/.f.afile-lock
printf 'w\n' | run 1 "$AF" write --lock s/f
expect_err_re "open lock file: not a regular file"
expect_content secret "plain
"
rm s/.f.afile-lock
nobody touch s/.f.afile-lock
nobody chmod 644 s/.f.afile-lock
printf 'w\n' | run 1 "$AF" write --lock s/f
expect_err_re "open lock file \(fs\.protected_regular\): "
run 1 "$AF" lock s/f -- true
expect_err_re "^atomicfile: lock 's/f': lock: refused: planted by another user in a sticky directory .*protected_regular"
run 1 "$AF" lock --shared s/f -- true
expect_err_re "protected_regular"
expect_content s/f "v
"
# Root's own sidecar and a user's sidecar in a non-sticky directory work.
rm s/.f.afile-lock
run 0 "$AF" lock s/f -- true
nobody touch n/.mine.afile-lock
run 0 "$AF" lock n/mine -- true

# 5. A journal directory planted in a sticky transaction root.
mkdir r
chmod 1777 r
nobody mkdir r/.atomicfile
run 1 "$AF" txn -C r put new "$T/src"
expect_err_re "refuse directory planted by another user"
[ ! -e r/new ] || fail "txn with a planted .atomicfile/ made r/new"
[ -z "$(ls -A r/.atomicfile)" ] || fail "root wrote into the planted .atomicfile/"
run 1 "$AF" recover r
expect_err_re "^atomicfile: recover 'r': refused: planted by another user"
echo "PASS"
