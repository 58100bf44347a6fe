# SPDX-License-Identifier: MIT
#
# erofs.sh - a read-only file system: every mutating verb fails cleanly.
#
# An ext4 image is remounted read-only between operations.  write, create,
# rm, cp, mv and patch must each exit 1 with "Read-only file system" and
# change nothing (contents, entries, no *.afile-tmp); cat still works.
# After remounting read-write, the same operations succeed.
#
# Usage: bash erofs.sh PATH-TO-atomicfile

. "$(dirname "$0")/lib.sh"

require_priv ext4
setup
make_fs ext4 16 e
FS=$MNT
D=$FS/d
mkdir "$D"

head -c 5000 /dev/urandom >"$WORK/old"
head -c 7000 /dev/urandom >"$WORK/new"
head -c 100 /dev/urandom >"$WORK/patch"
cp "$WORK/old" "$D/file"
cp "$WORK/old" "$D/other"
sync

mount -o remount,ro "$FS" || fail "remount read-only failed"
LISTING=$(listing "$D")

check_ro() {
	local what=$1
	expect_fail 1 "Read-only file system" "$what on a read-only file system"
	assert_same "$WORK/old" "$D/file" "$D/file after $what"
	assert_same "$WORK/old" "$D/other" "$D/other after $what"
	[ "$(listing "$D")" = "$LISTING" ] ||
		fail "expected the entries of $D to stay '$(flat "$LISTING")' after $what, got '$(flat "$(listing "$D")")'"
	assert_no_tmp "$FS" "$what"
}

run_cli write "$D/file" <"$WORK/new"
check_ro write
run_cli create "$D/new" <"$WORK/new"
check_ro create
run_cli rm "$D/file"
check_ro rm
run_cli cp "$D/file" "$D/copy"
check_ro "cp to a new name"
run_cli cp "$D/file" "$D/other"
check_ro "cp over a file"
run_cli mv "$D/file" "$D/moved"
check_ro "mv to a new name"
run_cli mv "$D/file" "$D/other"
check_ro "mv over a file"
run_cli patch --offset=10 "$D/file" <"$WORK/patch"
check_ro patch

# Reading needs no write access.
"$AFILE" cat "$D/file" >"$WORK/read" ||
	fail "expected cat to work on a read-only file system"
assert_same "$WORK/old" "$WORK/read" "the output of cat"

mount -o remount,rw "$FS" || fail "remount read-write failed"

run_cli write "$D/file" <"$WORK/new"
expect_ok write
assert_same "$WORK/new" "$D/file" "$D/file after write"
run_cli create "$D/new" <"$WORK/new"
expect_ok create
assert_same "$WORK/new" "$D/new" "$D/new after create"
run_cli cp "$D/file" "$D/copy"
expect_ok cp
assert_same "$WORK/new" "$D/copy" "$D/copy after cp"
run_cli mv "$D/copy" "$D/moved"
expect_ok mv
assert_same "$WORK/new" "$D/moved" "$D/moved after mv"
[ ! -e "$D/copy" ] || fail "expected $D/copy to be gone after mv, got it still there"
cp "$WORK/new" "$WORK/expected"
dd if="$WORK/patch" of="$WORK/expected" bs=1 seek=10 conv=notrunc status=none
run_cli patch --offset=10 "$D/file" <"$WORK/patch"
expect_ok patch
assert_same "$WORK/expected" "$D/file" "$D/file after patch"
run_cli rm "$D/file"
expect_ok rm
[ ! -e "$D/file" ] || fail "expected $D/file to be gone after rm, got it still there"
assert_no_tmp "$FS" "the operations after remounting read-write"

finish
