# SPDX-License-Identifier: MIT
#
# mv-xdev.sh - mv from one file system to another (ext4 into xfs).
#
# rename(2) fails with EXDEV here, so the library copies the file with its
# metadata, publishes the copy atomically and removes the source.  Checks:
# the bytes, mode, owner, user.test xattr and ACL arrive, the source is
# gone; over an existing file the move replaces it; with --no-clobber onto
# an existing file the tool exits 3 and both files stay as they were; no
# *.afile-tmp is left on either side.
#
# Usage: bash mv-xdev.sh PATH-TO-atomicfile

. "$(dirname "$0")/lib.sh"

require_priv ext4 xfs
for tool in setfacl getfacl setfattr getfattr; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
setup
make_fs ext4 16 e
E=$MNT
make_fs xfs 300 x
X=$MNT

head -c 123456 /dev/urandom >"$WORK/a"
head -c 4567 /dev/urandom >"$WORK/b"

cp "$WORK/a" "$E/src"
chmod 640 "$E/src"
chown 1234:1234 "$E/src"
setfattr -n user.test -v "moved along" "$E/src"
setfacl -m u:1234:r "$E/src"
meta "$E/src" >"$WORK/meta.before"

run_cli mv "$E/src" "$X/dst"
expect_ok "mv from ext4 to xfs"
assert_same "$WORK/a" "$X/dst" "$X/dst after mv"
[ ! -e "$E/src" ] || fail "expected the source $E/src to be gone after mv, got it still there"
meta "$X/dst" >"$WORK/meta.after"
cmp -s "$WORK/meta.before" "$WORK/meta.after" ||
	fail "expected mv across file systems to keep the metadata: $(flat "$(cat "$WORK/meta.before")") got: $(flat "$(cat "$WORK/meta.after")")"
assert_no_tmp "$E" "mv across file systems"
assert_no_tmp "$X" "mv across file systems"

# Over an existing file: replaced.
cp "$WORK/b" "$E/src2"
run_cli mv "$E/src2" "$X/dst"
expect_ok "mv from ext4 over an existing file on xfs"
assert_same "$WORK/b" "$X/dst" "$X/dst after mv over it"
[ ! -e "$E/src2" ] || fail "expected the source $E/src2 to be gone after mv, got it still there"

# --no-clobber onto an existing file: refused, nothing changes.
cp "$WORK/a" "$E/src3"
run_cli mv --no-clobber "$E/src3" "$X/dst"
[ "$RC" = 3 ] ||
	fail "expected exit 3 from mv --no-clobber across file systems onto an existing file, got $RC (stderr: $ERR)"
assert_same "$WORK/a" "$E/src3" "the source of the refused mv"
assert_same "$WORK/b" "$X/dst" "the target of the refused mv"
[ "$(listing "$X")" = dst ] ||
	fail "expected only 'dst' in $X after the refused mv, got '$(flat "$(listing "$X")")'"
assert_no_tmp "$E" "the refused mv"
assert_no_tmp "$X" "the refused mv"

finish
