# SPDX-License-Identifier: MIT
#
# ops.sh - every CLI verb on a real file system (ext4, xfs or btrfs).
#
# Checks, on a loop-mounted image of the file system named by the second
# argument:
#  - write, replace, create, cat, rm, cp, mv and patch give the right bytes
#    (cmp against references made with coreutils), and the expected exit
#    codes for the refusals (create over a file, mv --no-clobber);
#  - a reader that opened the file before a replace keeps the old version;
#  - a replace, a patch and a cp keep mode, owner, the user.test xattr and
#    the ACL (cp also the mtime);
#  - cp of a 64 MiB file shares its extents on xfs and btrfs (df grows by
#    far less than the file, filefrag reports shared extents) and is a real,
#    correct copy on ext4;
#  - patch of 4 KiB in the middle of a 64 MiB file gives the same bytes as
#    dd conv=notrunc and, on xfs and btrfs, does not copy the file;
#  - no *.afile-tmp is left anywhere, after successes and refusals.
#
# Usage: bash ops.sh PATH-TO-atomicfile ext4|xfs|btrfs

. "$(dirname "$0")/lib.sh"

FSTYPE=${2:?usage: $0 PATH-TO-atomicfile ext4|xfs|btrfs}
TEST_NAME="ops-$FSTYPE"
case $FSTYPE in
ext4) SIZE=384 REFLINK=0 ;;
xfs) SIZE=300 REFLINK=1 ;;
btrfs) SIZE=512 REFLINK=1 ;;
*) fail "unknown file system '$FSTYPE'" ;;
esac

require_priv "$FSTYPE"
for tool in setfacl getfacl setfattr getfattr filefrag; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
setup
make_fs "$FSTYPE" "$SIZE" fs
FS=$MNT
D=$FS/d
mkdir "$D"

head -c 3000 /dev/urandom >"$WORK/a"
head -c 70000 /dev/urandom >"$WORK/b"
head -c 4096 /dev/urandom >"$WORK/patch"

# --- Plain operations and their contents ----------------------------

run_cli create "$D/f" <"$WORK/a"
expect_ok "create of a new file"
assert_same "$WORK/a" "$D/f" "$D/f after create"

run_cli create "$D/f" <"$WORK/b"
[ "$RC" = 3 ] || fail "expected exit 3 from create over an existing file, got $RC (stderr: $ERR)"
assert_same "$WORK/a" "$D/f" "$D/f after the refused create"
assert_no_tmp "$FS" "the refused create"

# A reader holding the old version keeps it across the replace.
exec 3<"$D/f"
run_cli write "$D/f" <"$WORK/b"
expect_ok "write over an existing file"
assert_same "$WORK/b" "$D/f" "$D/f after write"
cat <&3 >"$WORK/seen"
exec 3<&-
assert_same "$WORK/a" "$WORK/seen" "what a reader that opened $D/f before the replace read"

run_cli write "$D/g" <"$WORK/a"
expect_ok "write of a new file"
assert_same "$WORK/a" "$D/g" "$D/g after write"

run_cli write "$D/empty" </dev/null
expect_ok "write of empty contents"
{ [ -f "$D/empty" ] && [ ! -s "$D/empty" ]; } ||
	fail "expected $D/empty to be an empty file, got $(stat -c %s "$D/empty" 2>&1)"

"$AFILE" cat "$D/f" >"$WORK/out" || fail "expected cat of $D/f to succeed"
assert_same "$WORK/b" "$WORK/out" "the output of cat"
run_cli cat "$D/nothing"
expect_fail 1 "No such file or directory" "cat of a missing file"

run_cli cp "$D/f" "$D/h"
expect_ok "cp to a new name"
assert_same "$WORK/b" "$D/h" "$D/h after cp"
run_cli cp "$D/g" "$D/h"
expect_ok "cp over an existing file"
assert_same "$WORK/a" "$D/h" "$D/h after cp over it"
assert_same "$WORK/a" "$D/g" "the source of cp"

run_cli mv "$D/h" "$D/i"
expect_ok "mv to a new name"
assert_same "$WORK/a" "$D/i" "$D/i after mv"
[ ! -e "$D/h" ] || fail "expected $D/h to be gone after mv, got it still there"
run_cli mv "$D/i" "$D/f"
expect_ok "mv over an existing file"
assert_same "$WORK/a" "$D/f" "$D/f after mv over it"
[ ! -e "$D/i" ] || fail "expected $D/i to be gone after mv, got it still there"

cp "$WORK/b" "$WORK/h"
cp "$WORK/b" "$D/h"
run_cli mv --no-clobber "$D/h" "$D/g"
[ "$RC" = 3 ] || fail "expected exit 3 from mv --no-clobber onto an existing file, got $RC (stderr: $ERR)"
assert_same "$WORK/b" "$D/h" "the source of the refused mv"
assert_same "$WORK/a" "$D/g" "the target of the refused mv"
assert_no_tmp "$FS" "the refused mv"

run_cli rm "$D/h"
expect_ok rm
[ ! -e "$D/h" ] || fail "expected $D/h to be gone after rm, got it still there"
run_cli rm "$D/h"
expect_fail 1 "No such file or directory" "rm of a missing file"

# patch: inside the file, across its end, and past its end (a hole).
for off in 0 1000 $((70000 - 100)) $((70000 + 5000)); do
	cp "$WORK/b" "$WORK/expected"
	dd if="$WORK/patch" of="$WORK/expected" bs=4096 oflag=seek_bytes \
		seek="$off" conv=notrunc status=none
	cp "$WORK/b" "$D/p"
	run_cli patch --offset="$off" "$D/p" <"$WORK/patch"
	expect_ok "patch at offset $off"
	assert_same "$WORK/expected" "$D/p" "$D/p after patch at offset $off"
done
run_cli patch --offset=0 "$D/nothing" <"$WORK/patch"
expect_fail 1 "No such file or directory" "patch of a missing file"
[ ! -e "$D/nothing" ] || fail "expected patch of a missing file not to create it, got $D/nothing"
assert_no_tmp "$FS" "the plain operations"

# --- Metadata kept across replace, patch and cp ------------------------

cp "$WORK/a" "$D/m"
chmod 640 "$D/m"
chown 1234:1234 "$D/m"
setfattr -n user.test -v "kept across replace" "$D/m"
setfacl -m u:1234:r "$D/m"
touch -d '2001-02-03 04:05:06' "$D/m"
meta "$D/m" >"$WORK/meta.before"
grep -q 'user:1234:r' "$WORK/meta.before" ||
	fail "expected the ACL entry user:1234:r to be set up, got: $(cat "$WORK/meta.before")"
grep -q 'user.test=' "$WORK/meta.before" ||
	fail "expected the xattr user.test to be set up, got: $(cat "$WORK/meta.before")"

check_meta() {
	meta "$2" >"$WORK/meta.after"
	cmp -s "$WORK/meta.before" "$WORK/meta.after" ||
		fail "expected $1 to keep the metadata: $(flat "$(cat "$WORK/meta.before")") got: $(flat "$(cat "$WORK/meta.after")")"
}

run_cli cp "$D/m" "$D/mcopy"
expect_ok "cp of a file with metadata"
check_meta "cp" "$D/mcopy"
[ "$(stat -c %Y "$D/mcopy")" = "$(stat -c %Y "$D/m")" ] ||
	fail "expected cp to keep the mtime $(stat -c %y "$D/m"), got $(stat -c %y "$D/mcopy")"

INO=$(stat -c %i "$D/m")
run_cli write "$D/m" <"$WORK/b"
expect_ok "write over a file with metadata"
assert_same "$WORK/b" "$D/m" "$D/m after write"
check_meta "write (replace)" "$D/m"
[ "$(stat -c %i "$D/m")" != "$INO" ] ||
	fail "expected write to publish a new inode (replace by rename), got the same inode $INO"

cp "$WORK/b" "$WORK/expected"
dd if="$WORK/patch" of="$WORK/expected" bs=4096 oflag=seek_bytes seek=777 \
	conv=notrunc status=none
run_cli patch --offset=777 "$D/m" <"$WORK/patch"
expect_ok "patch of a file with metadata"
assert_same "$WORK/expected" "$D/m" "$D/m after patch"
check_meta "patch" "$D/m"

run_cli cp "$D/f" "$D/mcopy"
expect_ok "cp over a file with metadata"
assert_same "$WORK/a" "$D/mcopy" "$D/mcopy after cp over it"
assert_no_tmp "$FS" "the metadata operations"

# --- Large files: reflink copy and patch ------------------------------

BIG_MIB=64
head -c $((BIG_MIB * 1024 * 1024)) /dev/urandom >"$WORK/big"
run_cli write "$D/big" <"$WORK/big"
expect_ok "write of $BIG_MIB MiB"
assert_same "$WORK/big" "$D/big" "$D/big after write"

USED0=$(used_kib "$FS")
run_cli cp "$D/big" "$D/big2"
expect_ok "cp of $BIG_MIB MiB"
USED1=$(used_kib "$FS")
assert_same "$WORK/big" "$D/big2" "the copy of $D/big"
GROWTH=$((USED1 - USED0))
if [ "$REFLINK" = 1 ]; then
	[ "$GROWTH" -lt 8192 ] ||
		fail "expected cp on $FSTYPE to share extents (used space to grow by < 8192 KiB), got $GROWTH KiB"
	filefrag -v "$D/big2" | grep -q shared ||
		fail "expected filefrag to report shared extents in the copy, got: $(filefrag -v "$D/big2" | tail -n 3)"
else
	[ "$GROWTH" -ge $((BIG_MIB * 1024 - 1024)) ] ||
		fail "expected cp on ext4 to be a real copy (used space to grow by ~$((BIG_MIB * 1024)) KiB), got $GROWTH KiB"
fi

OFF=$((BIG_MIB * 1024 * 1024 / 2 + 100))
cp "$WORK/big" "$WORK/expected"
dd if="$WORK/patch" of="$WORK/expected" bs=4096 oflag=seek_bytes seek="$OFF" \
	conv=notrunc status=none
USED0=$(used_kib "$FS")
run_cli patch --offset="$OFF" "$D/big" <"$WORK/patch"
expect_ok "patch of 4 KiB inside $BIG_MIB MiB"
USED1=$(used_kib "$FS")
assert_same "$WORK/expected" "$D/big" "$D/big after patch"
assert_same "$WORK/big" "$D/big2" "the copy of $D/big after the patch of $D/big"
GROWTH=$((USED1 - USED0))
if [ "$REFLINK" = 1 ]; then
	# The old version's extents live on in big2, so a full copy would
	# show here as $BIG_MIB MiB more.
	[ "$GROWTH" -lt 8192 ] ||
		fail "expected patch on $FSTYPE not to copy the file (used space to grow by < 8192 KiB), got $GROWTH KiB"
	filefrag -v "$D/big" | grep -q shared ||
		fail "expected filefrag to report extents of the patched file shared with its copy, got: $(filefrag -v "$D/big" | tail -n 3)"
fi
assert_no_tmp "$FS" "the large-file operations"

finish
