# cat.sh - cat of one or several files, -C ROOT, --no-follow, failures.
. "$(dirname "$0")/lib.sh"

printf 'one\n' >a
printf 'two\n' >b
head -c 100000 /dev/urandom >bin
run 0 "$AF" cat a
expect_out "one
"
run 0 "$AF" cat a b a
expect_out "one
two
one
"
expect_no_err
run 0 "$AF" cat bin
expect_same "$O/out" bin
: >empty
run 0 "$AF" cat empty
expect_out ""

# -C ROOT: the files are relative to ROOT, not to the current directory.
mkdir -p root/sub
printf 'in root\n' >root/a
printf 'deeper\n' >root/sub/c
run 0 "$AF" cat -C root a sub/c
expect_out "in root
deeper
"
run 0 "$AF" cat -Croot a
expect_out "in root
"
run 0 "$AF" cat -C "$T/root" a
expect_out "in root
"
# An absolute FILE is not relative to ROOT.
run 0 "$AF" cat -C root "$T/a"
expect_out "one
"
run 1 "$AF" cat -C nowhere a
expect_err "atomicfile: cat 'nowhere': open directory: No such file or directory"
run 1 "$AF" cat -C a a
expect_err "atomicfile: cat 'a': open directory: Not a directory"

# Symlinks: followed, unless --no-follow.
ln -s a lnk
run 0 "$AF" cat lnk
expect_out "one
"
run 1 "$AF" cat --no-follow lnk
expect_err_re "^atomicfile: cat 'lnk': (.+: )?Too many levels of symbolic links$"

# A failure does not stop the other files; the exit status says it.
run 1 "$AF" cat a missing b
expect_out "one
two
"
expect_err_re "^atomicfile: cat 'missing': (.+: )?No such file or directory$"
mkdir d
run 1 "$AF" cat d
expect_err_re "^atomicfile: cat 'd': (.+: )?Is a directory$"
run 1 "$AF" cat -q missing a
expect_no_err
expect_out "one
"

# --stats counts the bytes read.
run 0 "$AF" cat --stats bin
expect_same "$O/out" bin
[ "$(stat_value bytes_read)" = 100000 ] ||
	fail "--stats: expected bytes_read: 100000, got '$(stat_value bytes_read)'"
[ "$(stat_value ops)" = 1 ] || fail "--stats: expected ops: 1"

# A full standard output is an error, not a silent truncation.
got=0
"$AF" cat a >/dev/full 2>"$O/err" || got=$?
[ "$got" = 1 ] || fail "cat to /dev/full: expected exit 1, got $got"
expect_err "atomicfile: cat 'a': write standard output: No space left on device"
echo "PASS"
