# write.sh - write and create: contents, modes, symlinks, hard links,
# durability options, input failures, --stats, -q, bounded memory.
. "$(dirname "$0")/lib.sh"

head -c 300000 /dev/urandom >"$O/rand"

# A new file: contents byte-identical, mode 0666 & ~umask.
run 0 "$AF" write new <"$O/rand"
expect_same new "$O/rand"
expect_mode new 644
expect_no_err
(umask 077 && "$AF" write new077 </dev/null) || fail "write with umask 077"
expect_mode new077 600
(umask 002 && "$AF" write new002 </dev/null) || fail "write with umask 002"
expect_mode new002 664
expect_content new077 ""

# Replace: new contents, the old mode kept (not the umask's).
printf 'old\n' >f
chmod 751 f
printf 'replaced\n' | run 0 "$AF" write f
expect_content f "replaced
"
expect_mode f 751
no_temps

# --mode is exact: not masked by the umask, for new files and on replace.
(umask 077 && printf x | "$AF" write --mode=0666 m1) || fail "write --mode=0666"
expect_mode m1 666
printf y | run 0 "$AF" write --mode=640 f
expect_mode f 640
expect_content f y
(umask 777 && printf z | "$AF" write --mode=2751 m2) || fail "write --mode=2751"
expect_mode m2 2751

# Durability levels are accepted, and --stats shows what each one did.
for s in full data none; do
	printf '%s' "$s" | run 0 "$AF" write --stats --sync=$s "s-$s"
	expect_content "s-$s" "$s"
	for k in ops failures bytes_written bytes_read syncs dir_syncs \
	    retries recoveries sync_ns; do
		[ -n "$(stat_value $k)" ] || fail "--stats: no '$k: N' line in '$(cat "$O/err")'"
	done
	[ "$(stat_value ops)" = 1 ] || fail "--stats: expected ops: 1, got $(stat_value ops)"
	[ "$(stat_value failures)" = 0 ] || fail "--stats: expected failures: 0"
	[ "$(stat_value bytes_written)" = ${#s} ] ||
		fail "--stats: expected bytes_written: ${#s}, got $(stat_value bytes_written)"
done
printf x | run 0 "$AF" write --stats --sync=full s-full
[ "$(stat_value syncs)" -ge 1 ] || fail "--sync=full: expected a file sync"
[ "$(stat_value dir_syncs)" -ge 1 ] || fail "--sync=full: expected a directory sync"
printf x | run 0 "$AF" write --stats --sync=data s-data
[ "$(stat_value syncs)" -ge 1 ] || fail "--sync=data: expected a file sync"
[ "$(stat_value dir_syncs)" = 0 ] || fail "--sync=data: expected no directory sync"
printf x | run 0 "$AF" write --stats --sync=none s-none
[ "$(stat_value syncs)" = 0 ] || fail "--sync=none: expected no file sync"
[ "$(stat_value dir_syncs)" = 0 ] || fail "--sync=none: expected no directory sync"
# --stats also reports a failure.
mkdir adir
run 1 "$AF" write --stats adir </dev/null
[ "$(stat_value failures)" = 1 ] || fail "--stats after a failure: expected failures: 1"

# Symlinks: followed by default; --no-follow replaces the link itself.
printf 'target\n' >tgt
ln -s tgt lnk
printf 'via link\n' | run 0 "$AF" write lnk
[ -L lnk ] || fail "write through a symlink replaced the symlink"
expect_content tgt "via link
"
printf 'link itself\n' | run 0 "$AF" write --no-follow lnk
[ ! -L lnk ] || fail "--no-follow: lnk is still a symlink"
expect_content lnk "link itself
"
expect_content tgt "via link
"
# A dangling symlink's target is created.
ln -s created-by-link dang
printf d | run 0 "$AF" write dang
[ -L dang ] || fail "dangling symlink was replaced"
expect_content created-by-link d

# Hard links: refused by default, --break-hardlinks detaches them.
printf 'shared\n' >h1
ln h1 h2
printf 'new\n' | run 1 "$AF" write h1
expect_err_re "^atomicfile: write 'h1': (.+: )?the file has other hard links \(replacing would detach them\)$"
expect_content h1 "shared
"
[ "$(stat -c %h h1)" = 2 ] || fail "refused write changed the link count"
printf 'new\n' | run 0 "$AF" write --break-hardlinks h1
expect_content h1 "new
"
expect_content h2 "shared
"
[ "$(stat -c %h h2)" = 1 ] || fail "h2 still has 2 links"

# --allow-owner-change is accepted (its effect is tested in perm.sh).
printf o | run 0 "$AF" write --allow-owner-change own
expect_content own o

# create: new file, or exit 3 and nothing changed.
printf 'first\n' | run 0 "$AF" create c1
expect_content c1 "first
"
expect_mode c1 644
printf 'second\n' | run 3 "$AF" create c1
expect_err "atomicfile: create 'c1': File exists"
expect_content c1 "first
"
printf 'second\n' | run 3 "$AF" create -q c1
expect_no_err
(umask 077 && printf p | "$AF" create --mode=0604 c2) || fail "create --mode"
expect_mode c2 604
printf 'via link\n' | run 3 "$AF" create lnk
no_temps

# Everything is read before publishing: sorting a file in place is safe.
printf 'c\nb\na\n' >s
sort s | run 0 "$AF" write s
expect_content s "a
b
c
"
seq 200000 >"$O/seq"
shuf "$O/seq" >big
sort -n big | run 0 "$AF" write big
expect_same big "$O/seq"

# Standard input that fails: nothing published, exit 1, a clear message.
printf 'unchanged\n' >u
run 1 "$AF" write u <adir
expect_err "atomicfile: write 'u': read standard input: Is a directory"
expect_content u "unchanged
"
run 1 "$AF" create newfile <adir
[ ! -e newfile ] || fail "failed create left newfile behind"
no_temps
# Closed standard input is an input failure too.
run 1 "$AF" write u <&-
expect_err "atomicfile: write 'u': read standard input: Bad file descriptor"
expect_content u "unchanged
"

# Operation failures: exit 1 with "atomicfile: VERB 'PATH': REASON".
run 1 "$AF" write adir </dev/null
expect_err_re "^atomicfile: write 'adir': (.+: )?Is a directory$"
run 1 "$AF" write nodir/f </dev/null
expect_err_re "^atomicfile: write 'nodir/f': (.+: )?No such file or directory$"
mkfifo ff
run 1 "$AF" write ff </dev/null
expect_err_re "^atomicfile: write 'ff': (.+: )?not a regular file$"
run 1 "$AF" write -q adir </dev/null
expect_no_err
# Empty input gives an empty file.
run 0 "$AF" write f </dev/null
expect_content f ""
no_temps

# Big input from a regular file (its size is passed as a hint).
head -c $((12 << 20)) /dev/urandom >"$O/big"
run 0 "$AF" write --sync=none bigf <"$O/big"
expect_same bigf "$O/big"
# Input from an offset in a regular file: only the rest is written.
{ head -c 1000 >/dev/null; "$AF" write rest; } <"$O/big" || fail "write from an offset"
tail -c +1001 "$O/big" >"$O/rest"
expect_same rest "$O/rest"

# Bounded memory: peak RSS does not grow with the size of the input.
mkfifo pipe
"$AF" write --sync=none huge <pipe &
pid=$!
exec 3>pipe
head -c $((4 << 20)) /dev/zero >&3
hwm1=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
head -c $((300 << 20)) /dev/zero >&3
hwm2=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' /proc/$pid/status)
exec 3>&-
wait $pid || fail "write of 304 MiB through a pipe failed"
[ "$(stat -c %s huge)" = $((304 << 20)) ] || fail "huge: wrong size $(stat -c %s huge)"
rm -f huge
[ $((hwm2 - hwm1)) -lt 8192 ] ||
	fail "peak RSS grew from $hwm1 kB to $hwm2 kB over 300 MiB of input"
if sanitized; then
	echo "note: sanitizer build, absolute RSS limit not checked ($hwm2 kB)"
else
	[ "$hwm2" -lt 16384 ] || fail "peak RSS $hwm2 kB, expected under 16 MiB"
fi
no_temps
echo "PASS"
