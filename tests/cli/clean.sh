# clean.sh - clean: abandoned temps removed, live and young ones kept,
# --dry-run, --older-than, one line per temp, -q, failures.
# Run as "bash clean.sh PATH-TO-atomicfile PATH-TO-ofdhold".
. "$(dirname "$0")/lib.sh"
HOLD=${2:?usage: $0 PATH-TO-atomicfile PATH-TO-ofdhold}
case $HOLD in
/*) ;;
*) HOLD=$OLDPWD/$HOLD ;;
esac
[ -x "$HOLD" ] || fail "$HOLD is not an executable"

T1=.t.AAAAAAAAAAAA.afile-tmp
T2=.u.BBBBBBBBBBBB.afile-tmp
# A temp nobody locks is abandoned (its writer died).
abandoned() {
	printf 'partial' >"$1"
}

# Nothing to do.
run 0 "$AF" clean .
expect_out ""
expect_no_err

# An abandoned temp is removed; everything else stays.
printf 'data\n' >t
: >.t.afile-lock
: >x.afile-tmp
: >.t.SHORT.afile-tmp
abandoned $T1
run 0 "$AF" clean .
expect_out "removed ./$T1
"
[ ! -e $T1 ] || fail "clean did not remove an abandoned temp"
left=$(ls -A | tr '\n' ' ')
[ "$left" = ".t.SHORT.afile-tmp .t.afile-lock t x.afile-tmp " ] ||
	fail "clean removed something else: $left"
expect_content t "data
"

# --dry-run removes nothing and says what it would.
abandoned $T1
run 0 "$AF" clean --dry-run .
expect_out "would remove ./$T1
"
[ -e $T1 ] || fail "--dry-run removed a temp"

# A live writer's temp (locked) is kept.
mkfifo "$O/fifo"
"$HOLD" $T2 <"$O/fifo" >"$O/held" &
holder=$!
exec 3>"$O/fifo"
wait_for "$O/held"
until [ -s "$O/held" ]; do sleep 0.05; done
run 0 "$AF" clean --stats .
# Directory order is the file system's: compare the lines sorted.
got=$(LC_ALL=C sort "$O/out")
[ "$got" = "kept ./$T2 (writer alive)
removed ./$T1" ] || fail "clean with a live writer: got '$got'"
[ -e $T2 ] || fail "clean removed a live writer's temp"
exec 3>&-
wait $holder
run 0 "$AF" clean .
expect_out "removed ./$T2
"

# --older-than keeps recent temps whatever their lock says.
abandoned $T1
for d in 1h 90 90s 15m 2h 7d; do
	run 0 "$AF" clean --older-than=$d .
	expect_out "kept ./$T1 (younger than $d)
"
done
touch -d '3 hours ago' $T1
run 0 "$AF" clean --older-than=1h .
expect_out "removed ./$T1
"

# Several directories, named as typed; a trailing slash is not doubled.
mkdir d1 d2
abandoned d1/$T1
abandoned d2/$T2
run 0 "$AF" clean d1/ "$T/d2"
expect_out "removed d1/$T1
removed $T/d2/$T2
"

# A temp that cannot be removed is reported, and clean still exits 0.
mkdir .d.CCCCCCCCCCCC.afile-tmp
run 0 "$AF" clean .
expect_out "failed ./.d.CCCCCCCCCCCC.afile-tmp: Is a directory
"
rmdir .d.CCCCCCCCCCCC.afile-tmp

# -q prints nothing.
abandoned $T1
run 0 "$AF" clean -q .
expect_out ""
[ ! -e $T1 ] || fail "clean -q did not remove"

# A directory that cannot be swept: exit 1; the others still are.
abandoned d1/$T1
run 1 "$AF" clean nowhere d1
expect_err "atomicfile: clean 'nowhere': No such file or directory"
expect_out "removed d1/$T1
"
run 1 "$AF" clean t
expect_err "atomicfile: clean 't': Not a directory"
run 1 "$AF" clean -q nowhere
expect_no_err

# Usage errors.
run 2 "$AF" clean
run 2 "$AF" clean --older-than=soon .
run 2 "$AF" clean --older-than=5x .
run 2 "$AF" clean --older-than= .
run 2 "$AF" clean --sync=full .
echo "PASS"
