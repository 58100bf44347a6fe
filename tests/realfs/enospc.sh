# SPDX-License-Identifier: MIT
#
# enospc.sh - a full file system: write, cp and patch must fail with
# ENOSPC and leave everything as it was.
#
# A small image (ext4 16 MiB, xfs 300 MiB, btrfs 128 MiB) is filled with
# a filler file so that exactly X bytes stay free, for several X below the size the operation needs.  Each
# operation must exit 1 naming "No space left on device", leave the target
# byte-identical, add no entry to its directory, leave no *.afile-tmp
# anywhere, and give back every block it took (df after sync).  With
# enough room the same operations must succeed.  write is driven both from
# a regular file (its size can be reserved up front) and from a pipe (it
# cannot, so the failure comes from write(2) in the middle).  On xfs and
# btrfs, cp and patch share extents and need almost no space, so there
# they may also succeed on a full disk; then their result must be right.
#
# Usage: bash enospc.sh PATH-TO-atomicfile ext4|xfs|btrfs

. "$(dirname "$0")/lib.sh"

FSTYPE=${2:?usage: $0 PATH-TO-atomicfile ext4|xfs|btrfs}
TEST_NAME="enospc-$FSTYPE"
case $FSTYPE in
ext4) SIZE=16 REFLINK=0 SLACK=0 ;;
xfs) SIZE=300 REFLINK=1 SLACK=16384 ;;
btrfs) SIZE=128 REFLINK=1 SLACK=0 ;;
*) fail "unknown file system '$FSTYPE'" ;;
esac

require_priv "$FSTYPE"
setup
make_fs "$FSTYPE" "$SIZE" e
FS=$MNT
D=$FS/d
mkdir "$D"

NEW_SIZE=$((2 * 1024 * 1024))
PATCH_OFF=$((1024 * 1024 + 512))

head -c 8192 /dev/urandom >"$WORK/old"
head -c "$NEW_SIZE" /dev/urandom >"$WORK/new"
head -c "$NEW_SIZE" /dev/urandom >"$WORK/big"
head -c 4096 /dev/urandom >"$WORK/patch"
cp "$WORK/big" "$WORK/patched"
dd if="$WORK/patch" of="$WORK/patched" bs=4096 oflag=seek_bytes \
	seek="$PATCH_OFF" conv=notrunc status=none
cp "$WORK/old" "$D/target"
cp "$WORK/old" "$D/copy"
cp "$WORK/big" "$D/big"
sync

# What d/copy and d/big hold now (they change when a cp or patch succeeds
# on a reflink file system).
cp "$WORK/old" "$WORK/copy.now"
cp "$WORK/big" "$WORK/big.now"

# set_free BYTES - leave BYTES free, or a little less: drop the filler,
# then allocate all but BYTES.  FREE_KIB receives what df then reports.
# On xfs the last SLACK bytes that df counts as available cannot be
# taken by a filler (they are kept for the block map), so there it may be
# up to SLACK more.
set_free() {
	local want=$1 size i
	rm -f "$FS"/filler*
	size=$(($(avail_kib "$FS") * 1024 - want))
	[ "$size" -gt 0 ] || fail "set_free: cannot leave $want bytes free"
	# fallocate may need a few metadata blocks of its own: shrink the
	# request until it fits.
	until fallocate -l "$size" "$FS/filler" 2>/dev/null; do
		rm -f "$FS/filler"
		size=$((size - 4096))
		[ "$size" -gt 0 ] || fail "set_free: fallocate never fits"
	done
	FREE_KIB=$(avail_kib "$FS")
	[ $((FREE_KIB * 1024)) -le $((want + 4096 + SLACK)) ] ||
		fail "set_free: expected at most $(((want + 4096 + SLACK) / 1024)) KiB free, got $FREE_KIB KiB"
	echo "free space: asked for $((want / 1024)) KiB, got $FREE_KIB KiB"
}

# attempt MAY_SUCCEED WHAT FILE IF_FAILED IF_DONE ARGS... - run the CLI
# with ARGS on a full disk.  It must fail with ENOSPC and change nothing:
# FILE still holds IF_FAILED, the directory has the same entries, no
# temporary file remains and every block taken is given back.  When
# MAY_SUCCEED is 1 (cp or patch on a reflink file system) it may instead
# succeed, leaving IF_DONE in FILE; DONE tells which happened.
attempt() {
	local may=$1 what=$2 file=$3 if_failed=$4 if_done=$5 before after
	shift 5
	before=$(avail_kib "$FS")
	run_cli "$@"
	if [ "$RC" = 0 ] && [ "$may" = 1 ]; then
		assert_same "$if_done" "$file" "$file after $what"
		assert_no_tmp "$FS" "$what"
		echo "ok: $what: succeeded (extents shared)"
		DONE=1
		return
	fi
	DONE=0
	expect_fail 1 "No space left on device" "$what"
	assert_same "$if_failed" "$file" "$file after the failed $what"
	[ "$(listing "$D")" = "$LISTING" ] ||
		fail "expected the entries of $D to stay '$(flat "$LISTING")' after the failed $what, got '$(flat "$(listing "$D")")'"
	assert_no_tmp "$FS" "the failed $what"
	after=$(avail_kib "$FS")
	[ "$after" = "$before" ] ||
		fail "expected $before KiB free after the failed $what (free space given back), got $after KiB"
}

LISTING=$(listing "$D")
for x in 0 4096 $((NEW_SIZE / 2)) $((NEW_SIZE - 64 * 1024)) \
	$((NEW_SIZE - 4096 - SLACK)); do
	set_free "$x"

	# shellcheck disable=SC2094 # new is read, only target is written.
	attempt 0 "write from a file with $FREE_KIB KiB free" \
		"$D/target" "$WORK/old" "$WORK/new" \
		write "$D/target" <"$WORK/new"

	attempt 0 "write from a pipe with $FREE_KIB KiB free" \
		"$D/target" "$WORK/old" "$WORK/new" \
		write "$D/target" < <(cat "$WORK/new")

	attempt "$REFLINK" "cp over a file with $FREE_KIB KiB free" \
		"$D/copy" "$WORK/copy.now" "$WORK/big.now" \
		cp "$D/big" "$D/copy"
	[ "$DONE" = 0 ] || cp "$WORK/big.now" "$WORK/copy.now"
	assert_same "$WORK/big.now" "$D/big" "the source of cp"

	attempt "$REFLINK" "cp to a new name with $FREE_KIB KiB free" \
		"$D/big" "$WORK/big.now" "$WORK/big.now" \
		cp "$D/big" "$D/newcopy"
	if [ "$DONE" = 1 ]; then
		assert_same "$WORK/big.now" "$D/newcopy" "the new copy"
		rm "$D/newcopy"
	fi

	attempt "$REFLINK" "patch with $FREE_KIB KiB free" \
		"$D/big" "$WORK/big.now" "$WORK/patched" \
		patch --offset="$PATCH_OFF" "$D/big" <"$WORK/patch"
	[ "$DONE" = 0 ] || cp "$WORK/patched" "$WORK/big.now"
done

# With enough room, every operation succeeds.
ENOUGH=$((NEW_SIZE + 512 * 1024))

set_free "$ENOUGH"
run_cli write "$D/target" <"$WORK/new"
expect_ok "write with $FREE_KIB KiB free"
assert_same "$WORK/new" "$D/target" "the target after write"

set_free "$ENOUGH"
run_cli write "$D/target" < <(cat "$WORK/old")
expect_ok "write from a pipe with $FREE_KIB KiB free"
assert_same "$WORK/old" "$D/target" "the target after write from a pipe"

set_free "$ENOUGH"
run_cli cp "$D/big" "$D/copy"
expect_ok "cp with $FREE_KIB KiB free"
assert_same "$WORK/big.now" "$D/copy" "the copy"
rm "$D/copy"

set_free "$ENOUGH"
run_cli patch --offset="$PATCH_OFF" "$D/big" <"$WORK/patch"
expect_ok "patch with $FREE_KIB KiB free"
assert_same "$WORK/patched" "$D/big" "the patched file"
assert_no_tmp "$FS" "the successful operations"

finish
