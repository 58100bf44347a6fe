# SPDX-License-Identifier: MIT
#
# lib.sh - shared helpers of the FUSE crash suite.
#
# Sourced with: CLI HOLDFS DRIVER [HOLDFS-SWITCHES...].  The test file
# system (holdfs.c) serves $BACK (the "disk") at $MNT; power_cut kills
# it with SIGKILL (everything not fsynced is gone) and detaches the
# mount; mount_fs mounts the disk again.  Whatever happens, the cleanup
# kills the server we started (by its pid), unmounts and removes the
# scratch directory.

set -eu

AFILE=${1:?usage: $0 CLI HOLDFS DRIVER [SWITCHES...]}
HOLDFS=${2:?}
DRIVER=${3:?}
shift 3
SWITCHES=("$@")
TEST_NAME="$(basename "$0" .sh)${SWITCHES[*]:+ ${SWITCHES[*]}}"
WORK=
PID=
MNT=
BACK=

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

skip() {
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		echo "FAIL: $TEST_NAME cannot run (AFILE_REQUIRE_PRIV_TESTS=1): $*" >&2
		exit 1
	fi
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

require_fuse() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -c /dev/fuse ] || skip "no /dev/fuse"
	command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 is not installed (Debian: fuse3)"
	[ -x "$HOLDFS" ] || skip "the test file system was not built (Debian: libfuse3-dev): $HOLDFS"
	[ -x "$AFILE" ] || fail "the CLI '$AFILE' is not an executable file"
	[ -x "$DRIVER" ] || fail "the driver '$DRIVER' is not an executable file"
}

unmount_fs() {
	if [ -n "$PID" ]; then
		kill -9 "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
		PID=
	fi
	if [ -n "$MNT" ] && mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" ||
			echo "WARNING: could not unmount $MNT" >&2
	fi
	# A dead server's mount shows as "not connected" to mountpoint.
	grep -qs " $MNT fuse" /proc/mounts && { fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; } || true
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM HUP
	unmount_fs
	if [ -n "$WORK" ] && grep -qs " $WORK/" /proc/mounts; then
		echo "FAIL: $TEST_NAME: a mount under $WORK was left behind" >&2
		rc=1
	fi
	[ -n "$WORK" ] && ! grep -qs " $WORK/" /proc/mounts && rm -rf "$WORK"
	exit "$rc"
}

setup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/afile-fusefs.XXXXXX")
	BACK=$WORK/disk
	MNT=$WORK/mnt
	mkdir "$BACK" "$MNT"
}

mount_fs() {
	local i
	"$HOLDFS" "${SWITCHES[@]}" "$BACK" "$MNT" -f -s 2>>"$WORK/holdfs.log" &
	PID=$!
	for i in $(seq 200); do
		grep -qs " $MNT fuse" /proc/mounts && return 0
		kill -0 "$PID" 2>/dev/null || fail "holdfs exited: $(cat "$WORK/holdfs.log")"
		sleep 0.02
	done
	fail "holdfs did not mount $MNT within 4 s"
}

# The power cut: whatever no fsync reached is gone.  Then mount again.
power_cut() {
	unmount_fs
	mount_fs
}
