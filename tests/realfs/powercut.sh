# SPDX-License-Identifier: MIT
#
# powercut.sh - real power cuts on a loop-mounted image, checked against
# the simulator's model (crash-testing.md §3e; the driver is powercut.c,
# whose top comment has the method).
#
# This script makes the image and the mount for one configuration and
# guarantees the cleanup (lib.sh): unmount, loop devices detached, images
# removed, and for the image-copy method the vm.dirty_* sysctls restored.
#
# Configurations:
#   ext4            data=ordered (default), shutdown ioctl
#   ext4-noautoda   -o noauto_da_alloc (no flush-on-rename heuristic)
#   ext4-writeback  -o data=writeback
#   xfs             64 MiB image (mkfs.xfs needs the fstests variables
#                   below 300 MB), shutdown ioctl
#   btrfs           no shutdown ioctl on this kernel (ENOTTY): SIGKILL,
#                   then a copy of the backing image with periodic
#                   writeback off (commit=600, vm.dirty_*), mounted and
#                   checked beside the original
#
# Usage: bash powercut.sh PATH-TO-atomicfile PATH-TO-afile_powercut CONFIG
# Env: AFILE_SOAK=K repeats the sweep K times and scales the samples;
# AFILE_PC_ONLY=WORKLOAD[:POINT[:CUT]] replays one case (the FAIL lines
# print it); AFILE_PC_BREAK=dirsync runs the whole sweep with the
# directory fsyncs skipped (must FAIL).

. "$(dirname "$0")/lib.sh"

DRIVER=${2:?usage: $0 PATH-TO-atomicfile PATH-TO-afile_powercut CONFIG}
CONFIG=${3:?usage: $0 PATH-TO-atomicfile PATH-TO-afile_powercut CONFIG}
TEST_NAME="powercut-$CONFIG"
METHOD=shutdown
OPTS=
MKFS_EXT4=()
case $CONFIG in
ext4) FSTYPE=ext4 SIZE=16 ;;
ext4-noautoda) FSTYPE=ext4 SIZE=16 OPTS=noauto_da_alloc ;;
ext4-writeback) FSTYPE=ext4 SIZE=16 OPTS=data=writeback ;;
# By hand only (not in CTest): ext4's fast commits under one-flush replaces.
ext4-fastcommit) FSTYPE=ext4 SIZE=16 MKFS_EXT4=(-O fast_commit) ;;
xfs) FSTYPE=xfs SIZE=64 ;;
btrfs) FSTYPE=btrfs SIZE=128 METHOD=copy OPTS=commit=600 ;;
*) fail "unknown configuration '$CONFIG'" ;;
esac

require_priv "$FSTYPE"
[ -x "$DRIVER" ] || fail "the driver '$DRIVER' is not an executable file"
command -v losetup >/dev/null 2>&1 || skip "losetup is not installed"
# Images on tmpfs where there is one: the loop device's flushes then cost
# nothing on the host, and the cut is the file system's (its unwritten
# log), not the host disk's.
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	TMPDIR=/dev/shm setup
else
	setup
fi

# The image-copy method needs periodic writeback off, machine-wide: save
# the values and put them back whatever happens (through /proc/sys, so
# that procps is not needed).
SYSCTLS=(/proc/sys/vm/dirty_writeback_centisecs
	/proc/sys/vm/dirty_expire_centisecs)
SAVED=()
restore_sysctls() {
	local i
	for i in "${!SAVED[@]}"; do
		echo "${SAVED[i]}" >"${SYSCTLS[i]}" ||
			echo "WARNING: could not restore ${SYSCTLS[i]}" >&2
	done
	SAVED=()
}
# lib.sh's cleanup() reads $? first: keep it for it.
trap 'rc=$?; set +e; restore_sysctls; (exit $rc); cleanup' EXIT

IMG=$WORK/$CONFIG.img
truncate -s "${SIZE}M" "$IMG"
IMAGES+=("$IMG")
case $FSTYPE in
ext4) mkfs.ext4 -q -F -m 0 "${MKFS_EXT4[@]}" "$IMG" >/dev/null ;;
xfs) TEST_DIR=$WORK TEST_DEV=$IMG QA_CHECK_FS=1 mkfs.xfs -q -f "$IMG" >/dev/null ;;
btrfs) mkfs.btrfs -q -f "$IMG" >/dev/null 2>&1 ;;
esac

# A loop device of our own, without autoclear: the driver unmounts and
# mounts it again after every cut.  lib.sh detaches it (losetup -j).
DEV=$(losetup -f --show "$IMG") || skip "losetup -f --show failed"
MNT=$WORK/mnt
mkdir -p "$MNT"
MOUNTS+=("$MNT")
mount -t "$FSTYPE" ${OPTS:+-o "$OPTS"} "$DEV" "$MNT" ||
	fail "mount of the $FSTYPE image failed"

ARGS=(config="$CONFIG" fstype="$FSTYPE" dev="$DEV" mnt="$MNT"
	opts="$OPTS" method="$METHOD"
	rerun="bash $0 $1 $2 $3")
if [ "$METHOD" = copy ]; then
	CMNT=$WORK/copy-mnt
	mkdir -p "$CMNT"
	MOUNTS+=("$CMNT")
	IMAGES+=("$WORK/crash.img")
	ARGS+=(img="$IMG" copy="$WORK/crash.img" cmnt="$CMNT")
	for s in "${SYSCTLS[@]}"; do
		SAVED+=("$(cat "$s")")
	done
	echo 0 >"${SYSCTLS[0]}"
	echo 360000 >"${SYSCTLS[1]}"
fi

"$DRIVER" "${ARGS[@]}" || fail "see the FAIL lines above"
finish
