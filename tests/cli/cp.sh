# cp.sh - cp: contents and metadata (mode, xattrs, ACLs, mtime, owner),
# --no-clobber, into a directory, symlinks, hard links, --progress.
. "$(dirname "$0")/lib.sh"

head -c 200000 /dev/urandom >src
chmod 640 src
touch -d '2001-02-03 04:05:06.123456789' src
run 0 "$AF" cp src dst
expect_same dst src
expect_mode dst 640
[ "$(stat -c %y dst)" = "$(stat -c %y src)" ] ||
	fail "cp: mtime not kept: $(stat -c %y dst) vs $(stat -c %y src)"
expect_no_err
no_temps

# Extended attributes and ACLs are copied, where the file system has them.
if setfattr -n user.afile -v hello src 2>/dev/null; then
	run 0 "$AF" cp src dst-x
	got=$(getfattr --only-values -n user.afile dst-x 2>/dev/null || :)
	[ "$got" = hello ] || fail "cp: xattr user.afile: expected 'hello', got '$got'"
else
	echo "SKIP: user xattrs not supported in $T; xattr copy not checked"
fi
if setfacl -m u:65534:r src 2>/dev/null; then
	run 0 "$AF" cp src dst-acl
	want=$(getfacl -c src 2>/dev/null)
	got=$(getfacl -c dst-acl 2>/dev/null)
	[ "$got" = "$want" ] || fail "cp: ACL not kept: '$got' vs '$want'"
	setfacl -b src
else
	echo "SKIP: POSIX ACLs not supported in $T; ACL copy not checked"
fi
# The owner is kept where permitted (root may give it away).
if [ "$(id -u)" = 0 ]; then
	printf owned >owned
	chown 65534:65534 owned
	run 0 "$AF" cp owned owned-copy
	[ "$(stat -c %u:%g owned-copy)" = 65534:65534 ] ||
		fail "cp as root: owner not kept ($(stat -c %u:%g owned-copy))"
else
	echo "SKIP: not root; owner copy not checked"
fi

# Replacing an existing destination; --mode overrides the source's mode.
printf 'old\n' >dst2
run 0 "$AF" cp src dst2
expect_same dst2 src
run 0 "$AF" cp --mode=0604 src dst3
expect_mode dst3 604
(umask 077 && "$AF" cp --mode=0666 src dst4) || fail "cp --mode with umask 077"
expect_mode dst4 666

# --no-clobber: exit 3, destination unchanged, exact message.
printf 'keep\n' >kept
run 3 "$AF" cp --no-clobber src kept
expect_err "atomicfile: cp 'kept': File exists"
expect_content kept "keep
"
run 3 "$AF" cp -q --no-clobber src kept
expect_no_err
run 0 "$AF" cp --no-clobber src fresh
expect_same fresh src
no_temps

# A destination directory receives SRC's name, with or without a slash.
mkdir dir
run 0 "$AF" cp src dir
expect_same dir/src src
rm dir/src
run 0 "$AF" cp "$T/src" dir/
expect_same dir/src src
run 3 "$AF" cp --no-clobber src dir
expect_err "atomicfile: cp 'dir/src': File exists"

# Symlink at the destination: followed, unless --no-follow.
printf 'target\n' >tgt
ln -s tgt lnk
run 0 "$AF" cp src lnk
[ -L lnk ] || fail "cp through a symlink replaced the symlink"
expect_same tgt src
printf 'target\n' >tgt
run 0 "$AF" cp --no-follow src lnk
[ ! -L lnk ] || fail "cp --no-follow: lnk is still a symlink"
expect_same lnk src
expect_content tgt "target
"

# Hard-linked destination: refused unless --break-hardlinks.
printf 'shared\n' >h1
ln h1 h2
run 1 "$AF" cp src h1
expect_err_re "^atomicfile: cp 'h1': (.+: )?the file has other hard links \(replacing would detach them\)$"
expect_content h1 "shared
"
run 0 "$AF" cp --break-hardlinks src h1
expect_same h1 src
expect_content h2 "shared
"

# Failures.
run 1 "$AF" cp missing x
expect_err_re "^atomicfile: cp 'missing': (.+: )?No such file or directory$"
[ ! -e x ] || fail "failed cp created x"
ln -s gone dangling
run 1 "$AF" cp dangling x
expect_err_re "^atomicfile: cp 'dangling': (.+: )?No such file or directory$"
run 1 "$AF" cp src nodir/x
expect_err_re "^atomicfile: cp 'nodir/x': (.+: )?No such file or directory$"
run 1 "$AF" cp dir x
expect_err_re "^atomicfile: cp 'dir': (.+: )?Is a directory$"
[ ! -e x ] || fail "cp of a directory created x"
run 1 "$AF" cp -q missing x
expect_no_err

# Other common options are accepted.
run 0 "$AF" cp --sync=none --allow-owner-change src o1
expect_same o1 src
run 0 "$AF" cp --sync=data src o2
run 0 "$AF" cp --stats --sync=full src o3
[ "$(stat_value ops)" = 1 ] || fail "cp --stats: expected ops: 1"
[ "$(stat_value dir_syncs)" -ge 1 ] || fail "cp --sync=full: expected a directory sync"
no_temps

# --progress: nothing on a non-terminal; a bar ended by a newline on one.
head -c $((8 << 20)) /dev/urandom >large
run 0 "$AF" cp --progress large large-copy
expect_same large-copy large
expect_no_err
if command -v script >/dev/null 2>&1; then
	rm -f large-copy
	script -qec "'$AF' cp --progress large large-copy" /dev/null >"$O/tty" ||
		fail "cp --progress on a terminal failed: $(cat "$O/tty")"
	expect_same large-copy large
	grep -q '100%' "$O/tty" || fail "cp --progress: no 100% in '$(cat -v "$O/tty")'"
	[ "$(tail -c 2 "$O/tty" | od -An -c | tr -d ' ')" = '\r\n' ] ||
		fail "cp --progress: the bar does not end with a newline: '$(cat -v "$O/tty")'"
	# A small file gets no bar.
	script -qec "'$AF' cp --progress src small-copy" /dev/null >"$O/tty" ||
		fail "cp --progress of a small file failed"
	[ ! -s "$O/tty" ] || fail "cp --progress drew a bar for a small file: '$(cat -v "$O/tty")'"
else
	echo "SKIP: script(1) not found; progress bar on a terminal not checked"
fi
no_temps
echo "PASS"
