# shellcheck shell=bash source-path=SCRIPTDIR
# SPDX-License-Identifier: MIT
#
# kill9-powercut.sh - the CLI killed with SIGKILL, then the power cut, on a
# loop-mounted ext4 or xfs (issue 5, item 7; crash-testing.md §3d, §3e).
#
# The scenarios, the kills and the checks are those of tests/cli/kill9.sh
# (sourced with K9_LIB=1; its header describes the method); here the tree
# lives on the loop mount (its image on a tmpfs), every template copy is made durable (syncfs)
# before the command runs, and after every kill the power is cut:
# "xfs_io -x -c shutdown" without -f (the log is not flushed: what was not
# forced by a sync is lost, as in a crash), umount, mount (log replay).
# Then the next process's recovery runs (recover / clean) and the tree
# must be exactly old or new (transactions: all old or all new), with no
# temp, journal or intent left; a command that exited 0 before the kill
# (random kills only) must have left the new tree: it acknowledged a
# durable change.  Only --sync=full commands run here: --sync=none
# promises nothing across a power cut.
#
# Deterministic kills: every STRIDE-th call of each scenario's plan
# (STRIDE 2 by default, divided by AFILE_SOAK), from a different offset
# per file system so that ext4 and xfs together cover every call.
# Random kills: 250 x AFILE_SOAK, seeded (AFILE_KILL9_SEED).  Every
# violation prints one FAIL line with AFILE_KILL9_ONLY=SPEC to replay it.
#
# Usage: bash kill9-powercut.sh PATH-TO-atomicfile ext4|xfs

. "$(dirname "$0")/lib.sh"

FSTYPE=${2:?usage: $0 PATH-TO-atomicfile ext4|xfs}
TEST_NAME="kill9-powercut-$FSTYPE"
case $FSTYPE in
ext4) SIZE=128 OFFSET=0 ;;
xfs) SIZE=300 OFFSET=1 ;;
*) fail "unknown file system '$FSTYPE' (ext4 or xfs: the shutdown ioctl)" ;;
esac

require_priv "$FSTYPE"
for tool in strace xfs_io mkfifo md5sum; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)) ||
	skip "bash >= 5.1 is needed (here-strings in pipes)"
case $AFILE in
/*) ;;
*) AFILE=$PWD/$AFILE ;;
esac

setup
# The image lives on a tmpfs: the loop device's flushes then cost no disk
# writes (each kill makes a few syncs), and the power cut is the shutdown
# ioctl's job, not the backing store's.
IMG_DIR=$WORK/shm
mkdir "$IMG_DIR"
MOUNTS+=("$IMG_DIR")
mount -t tmpfs -o size=$((SIZE + 64))m tmpfs "$IMG_DIR" || fail "mount of a tmpfs failed"
make_fs "$FSTYPE" "$SIZE" fs
IMG=$IMG_DIR/$FSTYPE-fs.img

# shellcheck disable=SC2034 # K9_* settings are read by kill9.sh
K9_LIB=1
# shellcheck source=../cli/kill9.sh
. "$(dirname "$0")/../cli/kill9.sh"
K9_TAG=$TEST_NAME
# shellcheck disable=SC2034
K9_REPLAY="bash $(cd "$(dirname "$0")" && pwd)/kill9-powercut.sh $AFILE $FSTYPE"
# shellcheck disable=SC2034
K9_POWERCUT=1
SOAK=${AFILE_SOAK:-1}
[ "$SOAK" -ge 1 ] 2>/dev/null || SOAK=1
SEED=${AFILE_KILL9_SEED:-20261127}
STRIDE=$(((2 + SOAK - 1) / SOAK))
umask 022
k9_init "$AFILE" "$WORK/k9" "$MNT/d"

# The power cut: no flush of the log, then a remount that replays it.
k9_power_cut() {
	xfs_io -x -c shutdown "$MNT" || fail "xfs_io shutdown of $MNT failed"
	umount "$MNT" || fail "umount of $MNT after the shutdown failed"
	mount -o loop "$IMG" "$MNT" || fail "mount of the $FSTYPE image after a power cut failed"
}

if [ -n "${AFILE_KILL9_ONLY:-}" ]; then
	k9_replay "$AFILE_KILL9_ONLY"
	echo "$K9_TAG: replayed $AFILE_KILL9_ONLY: $K9_CUTS power cuts, $K9_VIOL violations"
	[ "$K9_VIOL" = 0 ] || exit 1
	exit 0
fi

SCENS=(write-replace write-new write-pipe write-empty write-lock write-symlink
	write-hardlink create rm rm-lock mv-replace mv-dir mv-exchange cp-replace
	cp-new patch patch-hole patch-inplace txn3 txn-mv txn-script)
i=0
for s in "${SCENS[@]}"; do
	# Alternate the offset between scenarios too.
	k9_sweep "$s" "$STRIDE" $(((OFFSET + i) % STRIDE))
	i=$((i + 1))
done
k9_random $((250 * SOAK)) $((SEED + 7919))

echo "$K9_TAG: $K9_DET deterministic kills (1 call in $STRIDE of each of ${#SCENS[@]} commands), $K9_RAND random kills (seed $((SEED + 7919)); $K9_RAND_DONE finished first, $K9_RAND_OLD left the old tree), $K9_CUTS power cuts, $K9_VIOL violations"
[ "$K9_VIOL" = 0 ] || exit 1
finish
