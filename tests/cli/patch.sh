# patch.sh - patch: bytes replaced at an offset as pwrite(2) would,
# compared with references built by dd conv=notrunc.
. "$(dirname "$0")/lib.sh"

head -c 100000 /dev/urandom >base
head -c 777 /dev/urandom >"$O/p"

# ref OFFSET: base with $O/p written at OFFSET, made by dd.
ref() {
	cp base "$O/ref"
	dd if="$O/p" of="$O/ref" bs=1 seek="$1" conv=notrunc status=none
}

for off in 0 1 4096 5000 $((100000 - 777)) 99999 100000 150000; do
	cp base f
	chmod 614 f
	run 0 "$AF" patch --offset=$off f <"$O/p"
	ref $off
	expect_same f "$O/ref"
	expect_mode f 614
	expect_no_err
done
# Beyond the end: a hole of zeros, the size grows to OFFSET + len.
[ "$(stat -c %s f)" = $((150000 + 777)) ] || fail "patch beyond EOF: wrong size"
[ "$(head -c 150000 f | tail -c 50000 | tr -d '\0' | wc -c)" = 0 ] ||
	fail "patch beyond EOF: the gap is not zeros"

# Options: --offset may come anywhere, "--offset N" too.
cp base f
run 0 "$AF" patch f --sync=none --offset 4096 <"$O/p"
ref 4096
expect_same f "$O/ref"
run 0 "$AF" patch --sync=data --offset=4096 f <"$O/p"
expect_same f "$O/ref"

# An empty patch changes nothing.
cp base f
run 0 "$AF" patch --offset=10 f </dev/null
expect_same f base

# Symlinks are followed; --no-follow refuses to patch a symlink.
cp base tgt
ln -s tgt lnk
run 0 "$AF" patch --offset=8 lnk <"$O/p"
[ -L lnk ] || fail "patch through a symlink replaced it"
ref 8
expect_same tgt "$O/ref"
run 1 "$AF" patch --no-follow --offset=8 lnk <"$O/p"
[ -L lnk ] || fail "patch --no-follow replaced the symlink"
expect_same tgt "$O/ref"

# Hard links: refused unless --break-hardlinks.
cp base h1
ln h1 h2
run 1 "$AF" patch --offset=0 h1 <"$O/p"
expect_err_re "^atomicfile: patch 'h1': (.+: )?the file has other hard links \(replacing would detach them\)$"
expect_same h1 base
run 0 "$AF" patch --break-hardlinks --allow-owner-change --offset=0 h1 <"$O/p"
ref 0
expect_same h1 "$O/ref"
expect_same h2 base

# Failures: a missing file, input that fails, input too large.
run 1 "$AF" patch --offset=0 missing <"$O/p"
expect_err_re "^atomicfile: patch 'missing': (.+: )?No such file or directory$"
[ ! -e missing ] || fail "patch created a missing file"
mkdir d
cp base f
run 1 "$AF" patch --offset=0 f <d
expect_err "atomicfile: patch 'f': read standard input: Is a directory"
expect_same f base
run 1 "$AF" patch --offset=0 f <&-
expect_err "atomicfile: patch 'f': read standard input: Bad file descriptor"
head -c $((64 << 20)) /dev/zero >"$O/64m"
run 0 "$AF" patch --sync=none --offset=0 f <"$O/64m"
[ "$(stat -c %s f)" = $((64 << 20)) ] || fail "64 MiB patch: wrong size"
rm "$O/64m"
cp base f
head -c $(((64 << 20) + 1)) /dev/zero | run 1 "$AF" patch --offset=0 f
expect_err "atomicfile: patch 'f': read standard input: more than 64 MiB; patch takes small changes"
expect_same f base
run 1 "$AF" patch -q --offset=0 missing <"$O/p"
expect_no_err
run 1 "$AF" patch --offset=18446744073709551615 f <"$O/p"
expect_err_re "^atomicfile: patch 'f': (.+: )?File too large$"
expect_same f base

run 0 "$AF" patch --stats --offset=0 f <"$O/p"
[ "$(stat_value ops)" = 1 ] || fail "patch --stats: expected ops: 1"
no_temps

# --in-place: the same bytes, the same inode, one sync once the redo log
# exists; recover FILE folds the log into the file.
for off in 0 5000 99999 150000; do
	cp base f
	chmod 614 f
	ino=$(stat -c %i f)
	run 0 "$AF" patch --in-place --offset=$off f <"$O/p"
	ref $off
	expect_same f "$O/ref"
	expect_mode f 614
	[ "$(stat -c %i f)" = "$ino" ] || fail "patch --in-place changed the inode"
	[ "$(stat -c %s .f.afile-redo)" -gt 0 ] || fail "patch --in-place left no redo log"
	run 0 "$AF" recover f
	expect_out "f: nothing to do
"
	[ "$(stat -c %s .f.afile-redo)" = 0 ] || fail "recover FILE did not empty the redo log"
	expect_same f "$O/ref"
	expect_no_err
done
cp base f
run 0 "$AF" patch --in-place --stats --offset=10 f <"$O/p"
[ "$(stat_value syncs)" = 1 ] || fail "patch --in-place: expected 1 sync, got $(stat_value syncs)"
[ "$(stat_value dir_syncs)" = 0 ] || fail "patch --in-place: expected no directory sync"
run 2 "$AF" patch --in-place --break-hardlinks --offset=0 f <"$O/p"
cp base h3
ln h3 h4
run 1 "$AF" patch --in-place --offset=0 h3 <"$O/p"
expect_err_re "^atomicfile: patch 'h3': (.+: )?the file has other hard links"
expect_same h3 base
run 0 "$AF" recover f
expect_out "f: nothing to do
"
no_temps
echo "PASS"
echo "PASS"
