# SPDX-License-Identifier: MIT
#
# lib.sh - shared helpers for the real-file-system tests.
#
# Each test script sources this file with the path of the atomicfile CLI
# as its first argument.  The helpers make small sparse images, format
# them (ext4, xfs, btrfs), loop-mount them, and guarantee that whatever
# happens (a failed check, set -e, a signal) every mount made here is
# unmounted, every loop device backing our images is detached, and the
# scratch directory is removed.  The cleanup also checks that no loop
# device for our images survived, and fails the test if one did: a leaked
# loop mount breaks later runs on the same machine.
#
# Invariants: MOUNTS lists every mount point we mounted, in order;
# IMAGES lists every image file we created.  Only these are touched by
# the cleanup, never another process's loop devices.

set -eu

AFILE=${1:?usage: $0 PATH-TO-atomicfile-CLI [ARGS...]}
TEST_NAME=$(basename "$0" .sh)
MOUNTS=()
IMAGES=()
WORK=

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

# Skip loudly, unless CI demands that privileged tests really run.
skip() {
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		echo "FAIL: $TEST_NAME cannot run (AFILE_REQUIRE_PRIV_TESTS=1): $*" >&2
		exit 1
	fi
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

# require_priv FS... - skip unless we are root, loop devices work and the
# tools for each named file system are installed.
require_priv() {
	local fs tool
	[ "$(id -u)" = 0 ] || skip "needs root"
	losetup -f >/dev/null 2>&1 || skip "no free loop device (losetup -f failed)"
	for fs in "$@"; do
		command -v "mkfs.$fs" >/dev/null 2>&1 || skip "mkfs.$fs is not installed"
		grep -qw "$fs" /proc/filesystems 2>/dev/null ||
			modprobe "$fs" >/dev/null 2>&1 ||
			skip "the kernel has no $fs support"
	done
	for tool in cmp df find sync truncate fallocate; do
		command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
	done
	[ -x "$AFILE" ] || fail "the CLI '$AFILE' is not an executable file"
}

# detach_img IMG - detach every loop device still backed by IMG (a lazy
# unmount lets go of it only when its last user does, so wait a little)
# and set LEAKED when one stays.
detach_img() {
	local img=$1 dev i
	[ -e "$img" ] || return 0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		for dev in $(losetup -j "$img" | cut -d: -f1); do
			losetup -d "$dev" 2>/dev/null
		done
		[ -z "$(losetup -j "$img")" ] && return 0
		sleep 0.2
	done
	echo "FAIL: $TEST_NAME: loop device left behind: $(losetup -j "$img")" >&2
	LEAKED=1
}

cleanup() {
	local rc=$? i m img
	LEAKED=0
	set +e
	trap - EXIT INT TERM HUP
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${MOUNTS[i]}
		# Images kept inside this mount (a thin tmpfs) must let go of
		# their loop devices before it can be unmounted.
		for img in "${IMAGES[@]}"; do
			case $img in "$m"/*) detach_img "$img" ;; esac
		done
		mountpoint -q "$m" || continue
		umount "$m" 2>/dev/null || umount -l "$m" ||
			echo "WARNING: could not unmount $m" >&2
	done
	for img in "${IMAGES[@]}"; do
		detach_img "$img"
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
	if [ "$LEAKED" = 1 ] && [ "$rc" = 0 ]; then
		rc=1
	fi
	exit "$rc"
}

# Start the scratch directory and the cleanup.  Signals turn into a
# normal exit so that the EXIT trap runs.
setup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/afile-realfs.XXXXXX")
}

# make_fs FS SIZE_MIB NAME [MOUNT_OPTIONS] - format a sparse image (in
# $IMG_DIR, by default $WORK) and mount it at $WORK/NAME; the mount point
# is left in $MNT.
make_fs() {
	local fs=$1 size=$2 name=$3 mopts=${4:-}
	local img=${IMG_DIR:-$WORK}/$1-$3.img
	truncate -s "${size}M" "$img"
	IMAGES+=("$img")
	case $fs in
	ext4)
		# No root reserve (-m 0): we run as root, and reserved blocks
		# would let root write past what df calls available.
		mkfs.ext4 -q -F -m 0 "$img" >/dev/null
		;;
	xfs)
		# Plain mkfs.xfs refuses images under 300 MB.
		[ "$size" -ge 300 ] || fail "make_fs: xfs needs >= 300 MiB"
		mkfs.xfs -q -f "$img" >/dev/null
		;;
	btrfs)
		mkfs.btrfs -q -f "$img" >/dev/null 2>&1
		;;
	*)
		fail "make_fs: unknown file system $fs"
		;;
	esac
	MNT=$WORK/$name
	mkdir -p "$MNT"
	MOUNTS+=("$MNT")
	mount -o "loop${mopts:+,$mopts}" "$img" "$MNT" ||
		fail "mount of the $fs image failed"
}

# flush_fs MNT - write everything back and give back the space that xfs
# holds in speculative (and copy-on-write) preallocations, which its
# background worker would otherwise free at some later moment: without
# this, df on xfs drifts between two measurements.
flush_fs() {
	sync -f "$1"
	sync
	if [ "$(stat -f -c %T "$1")" = xfs ] &&
		command -v xfs_spaceman >/dev/null 2>&1; then
		xfs_spaceman -c 'prealloc -s' "$1" >/dev/null
		sync -f "$1"
	fi
}

# avail_kib MNT - available space in KiB, after flushing so that blocks
# freed by an unlinked temporary file are counted.
avail_kib() {
	flush_fs "$1"
	df --output=avail "$1" | tail -n 1 | tr -d ' '
}

used_kib() {
	flush_fs "$1"
	df --output=used "$1" | tail -n 1 | tr -d ' '
}

# assert_no_tmp DIR - no temporary file of ours anywhere under DIR.
assert_no_tmp() {
	local left
	left=$(find "$1" -xdev -name '*.afile-tmp' 2>/dev/null)
	[ -z "$left" ] ||
		fail "expected no *.afile-tmp under $1 after ${2:-the operation}, got: $left"
}

# assert_same EXPECTED ACTUAL WHAT - byte-for-byte comparison.
assert_same() {
	cmp -s "$1" "$2" ||
		fail "expected $3 to be byte-identical to $1, got a difference: $(cmp "$1" "$2" 2>&1 | head -n 1)"
}

# run_cli VERB ARGS... [< input] - run the CLI, capturing its exit status
# in $RC and its standard error in $ERR, without tripping set -e.
run_cli() {
	RC=0
	"$AFILE" "$@" 2>"$WORK/stderr" || RC=$?
	ERR=$(cat "$WORK/stderr")
}

# expect_fail CODE TEXT WHAT - the last run_cli exited CODE and its
# message contains TEXT.
expect_fail() {
	[ "$RC" = "$1" ] ||
		fail "expected exit $1 from $3, got $RC (stderr: $ERR)"
	case $ERR in
	*"$2"*) ;;
	*) fail "expected a message mentioning '$2' from $3, got: $ERR" ;;
	esac
	case $ERR in
	atomicfile:*) ;;
	*) fail "expected the message of $3 to start with 'atomicfile:', got: $ERR" ;;
	esac
	echo "ok: $3: exit $RC: $ERR"
}

expect_ok() {
	[ "$RC" = 0 ] || fail "expected $1 to succeed, got exit $RC (stderr: $ERR)"
}

# flat TEXT - TEXT on one line, for messages.
flat() {
	local s=$1
	printf '%s' "${s//$'\n'/ }"
}

# listing DIR - every entry of DIR, one a line, hidden ones included.
listing() {
	ls -A "$1"
}

# meta FILE - the metadata that a replace must keep, as one text.
meta() {
	stat -c 'mode=%a uid=%u gid=%g' "$1"
	getfattr --absolute-names -d -m 'user\.' "$1" 2>/dev/null |
		grep -v '^# file' || true
	getfacl --absolute-names -p "$1" 2>/dev/null | grep -v '^# file' || true
}

# Start timing; finish() prints the elapsed time.
START_NS=$(date +%s%N)
finish() {
	local end
	end=$(date +%s%N)
	echo "PASS: $TEST_NAME ($(((end - START_NS) / 1000000)) ms)"
}
