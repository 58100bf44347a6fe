# SPDX-License-Identifier: MIT
#
# enospc-ext4.sh - a full ext4 file system: write, cp and patch must fail
# with ENOSPC and leave everything as it was.
#
# A 16 MiB ext4 image is filled with a filler file so that exactly X bytes
# stay free, for several X below the size the operation needs.  Each
# operation must exit 1 naming "No space left on device", leave the target
# byte-identical, add no entry to its directory, leave no *.afile-tmp
# anywhere, and give back every block it took (df after sync).  With
# enough room the same operations must succeed.  write is driven both from
# a regular file (its size can be reserved up front) and from a pipe (it
# cannot, so the failure comes from write(2) in the middle).
#
# Usage: bash enospc-ext4.sh PATH-TO-atomicfile

. "$(dirname "$0")/lib.sh"

require_priv ext4
setup
make_fs ext4 16 e
FS=$MNT
D=$FS/d
mkdir "$D"

NEW_SIZE=$((2 * 1024 * 1024))
PATCH_OFF=$((1024 * 1024 + 512))

head -c 8192 /dev/urandom >"$WORK/old"
head -c "$NEW_SIZE" /dev/urandom >"$WORK/new"
head -c "$NEW_SIZE" /dev/urandom >"$WORK/big"
head -c 4096 /dev/urandom >"$WORK/patch"
cp "$WORK/old" "$D/target"
cp "$WORK/old" "$D/copy"
cp "$WORK/big" "$D/big"
sync

# set_free BYTES - leave about BYTES free: drop the filler, then allocate
# all but BYTES.  FREE_KIB receives what df then reports.
set_free() {
	local want=$1 size
	rm -f "$FS/filler"
	size=$(($(avail_kib "$FS") * 1024 - want))
	[ "$size" -gt 0 ] || fail "set_free: cannot leave $want bytes free"
	# fallocate may need a few metadata blocks of its own: shrink the
	# request until it fits.
	until fallocate -l "$size" "$FS/filler" 2>/dev/null; do
		rm -f "$FS/filler"
		size=$((size - 4096))
	done
	FREE_KIB=$(avail_kib "$FS")
	[ "$FREE_KIB" -le $(((want + 4096) / 1024)) ] ||
		fail "set_free: expected at most $(((want + 4096) / 1024)) KiB free, got $FREE_KIB"
	echo "free space: asked for $((want / 1024)) KiB, got $FREE_KIB KiB"
}

# check_unchanged WHAT FILE EXPECTED - the state after a failed operation.
check_unchanged() {
	local what=$1 file=$2 expected=$3 after
	expect_fail 1 "No space left on device" "$what"
	assert_same "$expected" "$file" "$file after the failed $what"
	[ "$(listing "$D")" = "$LISTING" ] ||
		fail "expected the entries of $D to stay '$(echo $LISTING)' after the failed $what, got '$(echo $(listing "$D"))'"
	assert_no_tmp "$FS" "the failed $what"
	after=$(avail_kib "$FS")
	[ "$after" = "$BEFORE_KIB" ] ||
		fail "expected $BEFORE_KIB KiB free after the failed $what (free space given back), got $after KiB"
}

LISTING=$(listing "$D")
for x in 0 4096 $((NEW_SIZE / 2)) $((NEW_SIZE - 64 * 1024)) $((NEW_SIZE - 4096)); do
	set_free "$x"
	BEFORE_KIB=$FREE_KIB

	run_cli write "$D/target" <"$WORK/new"
	check_unchanged "write from a file with $FREE_KIB KiB free" \
		"$D/target" "$WORK/old"

	RC=0
	cat "$WORK/new" | "$AFILE" write "$D/target" 2>"$WORK/stderr" || RC=$?
	ERR=$(cat "$WORK/stderr")
	check_unchanged "write from a pipe with $FREE_KIB KiB free" \
		"$D/target" "$WORK/old"

	run_cli cp "$D/big" "$D/copy"
	check_unchanged "cp over a file with $FREE_KIB KiB free" \
		"$D/copy" "$WORK/old"
	assert_same "$WORK/big" "$D/big" "the source of the failed cp"

	run_cli cp "$D/big" "$D/newcopy"
	check_unchanged "cp to a new name with $FREE_KIB KiB free" \
		"$D/big" "$WORK/big"

	run_cli patch --offset="$PATCH_OFF" "$D/big" <"$WORK/patch"
	check_unchanged "patch with $FREE_KIB KiB free" "$D/big" "$WORK/big"
done

# With enough room, every operation succeeds.
ENOUGH=$((NEW_SIZE + 512 * 1024))

set_free "$ENOUGH"
run_cli write "$D/target" <"$WORK/new"
expect_ok "write with $FREE_KIB KiB free"
assert_same "$WORK/new" "$D/target" "the target after write"

set_free "$ENOUGH"
cat "$WORK/old" | "$AFILE" write "$D/target" || fail "expected write from a pipe with enough room to succeed"
assert_same "$WORK/old" "$D/target" "the target after write from a pipe"

set_free "$ENOUGH"
run_cli cp "$D/big" "$D/copy"
expect_ok "cp with $FREE_KIB KiB free"
assert_same "$WORK/big" "$D/copy" "the copy"
rm "$D/copy"

set_free "$ENOUGH"
cp "$WORK/big" "$WORK/expected"
dd if="$WORK/patch" of="$WORK/expected" bs=512 seek=$((PATCH_OFF / 512)) \
	conv=notrunc status=none
run_cli patch --offset="$PATCH_OFF" "$D/big" <"$WORK/patch"
expect_ok "patch with $FREE_KIB KiB free"
assert_same "$WORK/expected" "$D/big" "the patched file"
assert_no_tmp "$FS" "the successful operations"

finish
