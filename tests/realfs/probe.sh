# SPDX-License-Identifier: MIT
#
# probe.sh - afile_probe() through `atomicfile doctor` on a real file
# system (issue 9): every fact it reports is checked against what is known
# of that file system, and the probe leaves the directory as it was.
#
# Usage: probe.sh ATOMICFILE-CLI ext4|xfs|btrfs|tmpfs
#
# The facts: the type and magic number, the mount type and source from
# /proc/self/mountinfo, the kind (local, volatile), O_TMPFILE, the rename
# flags, OFD locks, file and directory fsync, trusted syncfs, reflink
# (xfs and btrfs only), the durability reachable (none on tmpfs), the
# warnings, a file path probing its directory, and a read-only mount
# refusing the probe with a clear error.

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
FS=${2:?usage: $0 ATOMICFILE-CLI ext4|xfs|btrfs|tmpfs}

if [ "$FS" = tmpfs ]; then
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -x "$AFILE" ] || fail "the CLI '$AFILE' is not an executable file"
else
	require_priv "$FS"
fi
setup

case $FS in
tmpfs)
	MNT=$WORK/tmpfs
	mkdir -p "$MNT"
	MOUNTS+=("$MNT")
	mount -t tmpfs -o size=16m tmpfs "$MNT" || fail "mount of a tmpfs failed"
	;;
xfs) make_fs xfs 320 m ;;
*) make_fs "$FS" 200 m ;;
esac

# expect KEY VALUE - the last doctor output has the line "KEY: VALUE".
expect() {
	grep -qxF "$1: $2" "$WORK/out" ||
		fail "$FS: expected '$1: $2' from doctor, got: $(grep "^$1:" "$WORK/out" || echo nothing)"
}

mkdir "$MNT/d"
echo keep >"$MNT/d/file"
before=$(ls -A "$MNT/d")
run_cli doctor "$MNT/d" >"$WORK/out"
expect_ok "doctor $MNT/d"
cat "$WORK/out"
after=$(ls -A "$MNT/d")
[ "$before" = "$after" ] ||
	fail "$FS: doctor changed the directory: before '$(flat "$before")', after '$(flat "$after")'"

magic=$(printf '%x' "0x$(stat -f -c %t "$MNT/d")")
expect path "$MNT/d"
expect file-system "$FS (magic 0x$magic)"
expect mount-type "$FS"
expect tmpfile yes
expect rename-noreplace yes
expect rename-exchange yes
expect ofd-locks yes
expect file-fsync yes
expect dir-fsync yes
expect syncfs yes
case $FS in
tmpfs)
	expect mount-source tmpfs
	expect kind volatile
	expect reflink no
	expect one-flush no
	expect durability none
	grep -q '^warning: memory only' "$WORK/out" ||
		fail "tmpfs: no 'memory only' warning"
	;;
*)
	expect mount-source "$(losetup -j "${IMAGES[0]}" | cut -d: -f1)"
	expect kind local
	case $FS in
	ext4) expect reflink no ;;
	*) expect reflink yes ;;
	esac
	case $FS in
	btrfs) expect one-flush no ;;
	*) expect one-flush yes ;;
	esac
	expect durability full
	! grep -q '^warning:' "$WORK/out" ||
		fail "$FS: unexpected warnings: $(grep '^warning:' "$WORK/out")"
	;;
esac
echo "ok: $FS: every fact as expected, the directory unchanged"

# The one-flush protocol is what a durable replace takes: no file sync,
# one directory sync, where the probe says so; a file sync and a
# directory sync elsewhere (and on ext4 without a journal).
# check_flushes DIR SYNCS - a durable replace in DIR makes SYNCS file
# syncs and one directory sync (the CLI's --stats counters).
check_flushes() {
	mkdir -p "$1"
	echo old >"$1/f"
	echo new | "$AFILE" write --stats "$1/f" 2>"$WORK/stats" ||
		fail "$FS: write in $1 failed: $(cat "$WORK/stats")"
	grep -qx "syncs: $2" "$WORK/stats" && grep -qx "dir_syncs: 1" "$WORK/stats" ||
		fail "$FS: expected $2 file syncs and 1 directory sync for a replace in $1, got: $(grep syncs "$WORK/stats" | tr '\n' ' ')"
	[ "$(cat "$1/f")" = new ] || fail "$FS: the replace in $1 did not take"
}
case $FS in
ext4 | xfs) check_flushes "$MNT/w" 0 ;;
*) check_flushes "$MNT/w" 1 ;;
esac
if [ "$FS" = ext4 ]; then
	M0=$MNT
	make_fs ext4 64 nj
	umount "$MNT" || fail "umount of the ext4 image failed"
	tune2fs -O ^has_journal "${IMAGES[1]}" >/dev/null ||
		fail "tune2fs could not remove the journal"
	mount -o loop "${IMAGES[1]}" "$MNT" || fail "mount without a journal failed"
	run_cli doctor -q "$MNT" >"$WORK/out"
	expect_ok "doctor on ext4 without a journal"
	expect one-flush no
	check_flushes "$MNT/w" 1
	echo "ok: ext4 without a journal: two flushes"
	MNT=$M0
fi
echo "ok: $FS: one flush exactly where the probe says so"

# A file's directory is probed.
run_cli doctor -q "$MNT/d/file" >"$WORK/out"
expect_ok "doctor on a file"
expect path "$MNT/d/file"
expect file-fsync yes
[ "$(ls -A "$MNT/d")" = "$before" ] || fail "$FS: doctor on a file changed the directory"
echo "ok: $FS: a file's directory is probed"

# Read-only: the probe cannot create its file and says so.
mount -o remount,ro "$MNT" || fail "remount read-only failed"
run_cli doctor "$MNT/d"
expect_fail 1 "Read-only file system" "doctor on a read-only $FS"
mount -o remount,rw "$MNT" || fail "remount read-write failed"

# A path that does not exist.
run_cli doctor "$MNT/nowhere"
expect_fail 1 "No such file or directory" "doctor on a missing path"
finish
