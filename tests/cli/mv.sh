# mv.sh - mv: rename, replace, --no-clobber, --exchange, into a
# directory, across file systems.
. "$(dirname "$0")/lib.sh"

printf 'A\n' >a
chmod 604 a
run 0 "$AF" mv a b
[ ! -e a ] || fail "mv a b: a still exists"
expect_content b "A
"
expect_mode b 604
expect_no_err

# Replacing an existing name.
printf 'A2\n' >a
run 0 "$AF" mv a b
expect_content b "A2
"
[ ! -e a ] || fail "mv over b: a still exists"

# --no-clobber: exit 3, both names as they were.
printf 'A3\n' >a
run 3 "$AF" mv --no-clobber a b
expect_err "atomicfile: mv 'b': File exists"
expect_content a "A3
"
expect_content b "A2
"
run 3 "$AF" mv -q --no-clobber a b
expect_no_err
run 0 "$AF" mv --no-clobber a c
expect_content c "A3
"
[ ! -e a ] || fail "mv --no-clobber a c: a still exists"

# --exchange swaps two existing names; both must exist.
run 0 "$AF" mv --exchange b c
expect_content b "A3
"
expect_content c "A2
"
run 1 "$AF" mv --exchange b missing
expect_err_re "^atomicfile: mv 'missing': (.+: )?No such file or directory$"
expect_content b "A3
"
run 2 "$AF" mv --exchange --no-clobber b c
expect_content b "A3
"
expect_content c "A2
"

# A destination directory receives SRC's name (not with --exchange).
mkdir dir
run 0 "$AF" mv b dir
expect_content dir/b "A3
"
[ ! -e b ] || fail "mv b dir: b still exists"
printf 'D\n' >d
run 0 "$AF" mv "$T/d" dir/
expect_content dir/d "D
"
run 0 "$AF" mv --exchange c dir
[ -d c ] && [ -f dir ] || fail "mv --exchange of a file and a directory did not swap"
expect_content dir "A2
"
run 0 "$AF" mv --exchange dir c
[ -d dir ] || fail "swap back failed"

# Symlinks are moved themselves.
ln -s c lnk
run 0 "$AF" mv lnk lnk2
[ -L lnk2 ] && [ "$(readlink lnk2)" = c ] || fail "mv of a symlink did not move the link"

# Failures.
run 1 "$AF" mv missing x
expect_err_re "^atomicfile: mv 'missing': (.+: )?No such file or directory$"
[ ! -e x ] || fail "failed mv created x"
run 1 "$AF" mv -q missing x
expect_no_err
run 1 "$AF" mv c nodir/x
[ -e c ] || fail "failed mv removed its source"

# Common options.
printf 1 >s1
run 0 "$AF" mv --sync=none --allow-owner-change s1 s2
run 0 "$AF" mv --sync=data s2 s3
run 0 "$AF" mv --stats --sync=full s3 s4
expect_content s4 1
[ "$(stat_value ops)" = 1 ] || fail "mv --stats: expected ops: 1"
[ "$(stat_value dir_syncs)" -ge 1 ] || fail "mv --sync=full: expected a directory sync"

# Across file systems: copied with its metadata, then the source removed.
other=
for d in /dev/shm /run /var/tmp; do
	if [ -d "$d" ] && [ -w "$d" ] &&
	    [ "$(stat -c %d "$d")" != "$(stat -c %d "$T")" ]; then
		other=$d
		break
	fi
done
if [ -n "$other" ]; then
	X=$(mktemp -d "$other/afile-cli.XXXXXX")
	trap 'cleanup; rm -rf "$X"' EXIT
	head -c 100000 /dev/urandom >xs
	cp xs "$O/xs"
	chmod 640 xs
	touch -d '2001-02-03 04:05:06' xs
	run 0 "$AF" mv xs "$X/xd"
	[ ! -e xs ] || fail "mv across file systems: source still exists"
	expect_same "$X/xd" "$O/xs"
	expect_mode "$X/xd" 640
	[ "$(stat -c %Y "$X/xd")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] ||
		fail "mv across file systems: mtime not kept"
	no_temps "$X"
else
	echo "SKIP: no writable directory on another file system; cross-device mv not checked"
fi
no_temps
echo "PASS"
