# SPDX-License-Identifier: MIT
#
# eio-thin.sh - the device runs out of space under the file system.
#
# A 64 MiB ext4 image lives on a 16 MiB tmpfs that is then filled up to
# 1 MiB, like an overcommitted thin volume: ext4 believes it has room,
# accepts the data into the page cache, and only write-back fails (the
# loop device gets ENOSPC from tmpfs, ext4 reports an error from fsync and
# may abort its journal).  Each operation, on a fresh image, must report
# the failure -- never success -- and leave the target as it was, both as
# seen live and on the image after unmounting (checked on a copy of the
# image, mounted afresh).
#
# Usage: bash eio-thin.sh PATH-TO-atomicfile

. "$(dirname "$0")/lib.sh"

require_priv ext4
setup

head -c 8192 /dev/urandom >"$WORK/old"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/big"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/new"
head -c 4096 /dev/urandom >"$WORK/patch"
N=0

# scenario WHAT ARGS... - on a fresh thin image holding d/target (old) and
# d/big, run the CLI with ARGS (standard input from the caller; @D in an
# argument stands for the directory d) once the device has only 1 MiB
# left.
scenario() {
	local what=$1 thin listing img a
	local -a args=()
	shift
	N=$((N + 1))
	thin=$WORK/thin$N
	mkdir "$thin"
	MOUNTS+=("$thin")
	mount -t tmpfs -o size=16m tmpfs "$thin" ||
		fail "mount of a 16 MiB tmpfs failed"
	IMG_DIR=$thin make_fs ext4 64 e$N
	img=$thin/ext4-e$N.img
	FS=$MNT
	D=$FS/d
	mkdir "$D"
	cp "$WORK/old" "$D/target"
	cp "$WORK/big" "$D/big"
	sync
	listing=$(listing "$D")
	# Leave 1 MiB on the device.
	dd if=/dev/zero of="$thin/filler" bs=64k 2>/dev/null || true
	truncate -s $(($(stat -c %s "$thin/filler") - 1024 * 1024)) \
		"$thin/filler"

	for a in "$@"; do
		args+=("${a//@D/$D}")
	done
	run_cli "${args[@]}"
	[ "$RC" = 1 ] ||
		fail "expected exit 1 from $what on a device out of space, got $RC (stderr: $ERR)"
	case $ERR in
	atomicfile:*) echo "ok: $what: exit $RC: $ERR" ;;
	*) fail "expected a message starting with 'atomicfile:' from $what, got: $ERR" ;;
	esac
	assert_same "$WORK/old" "$D/target" "the target after the failed $what"
	assert_same "$WORK/big" "$D/big" "$D/big after the failed $what"
	[ "$(listing "$D")" = "$listing" ] ||
		fail "expected the entries of $D to stay '$(flat "$listing")' after the failed $what, got '$(flat "$(listing "$D")")'"
	assert_no_tmp "$FS" "the failed $what"

	# What reached the device: unmount (ext4 may have aborted its
	# journal and gone read-only; that is fine) and mount a copy.
	umount "$FS" || fail "unmount after the failed $what did not work"
	detach_img "$img"
	cp --sparse=always "$img" "$WORK/copy$N.img"
	IMAGES+=("$WORK/copy$N.img")
	mkdir "$WORK/after$N"
	MOUNTS+=("$WORK/after$N")
	mount -o loop "$WORK/copy$N.img" "$WORK/after$N" ||
		fail "expected the image to mount again after the failed $what, got a mount error"
	assert_same "$WORK/old" "$WORK/after$N/d/target" \
		"the target on the device after the failed $what"
	assert_same "$WORK/big" "$WORK/after$N/d/big" \
		"d/big on the device after the failed $what"
	umount "$WORK/after$N"
	umount "$thin"
}

scenario "write of 4 MiB" write @D/target <"$WORK/new"
scenario "write of 4 MiB from a pipe" write @D/target < <(cat "$WORK/new")
scenario "cp of 4 MiB over the target" cp "$WORK/new" @D/target
scenario "cp of 4 MiB to a new name" cp "$WORK/new" @D/newcopy
scenario "patch of 4 MiB on ext4 (a full copy)" \
	patch --offset=4096 @D/big <"$WORK/patch"

finish
