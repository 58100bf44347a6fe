# usage.sh - global options, --help of every subcommand, and every usage
# error (exit 2), which must change nothing.
. "$(dirname "$0")/lib.sh"

SUBS="write create cat rm cp mv patch lock clean txn recover verify doctor"

run 0 "$AF" --help
grep -q '^Usage: atomicfile' "$O/out" || fail "--help: no Usage line"
for sub in $SUBS; do
	grep -Eq "^  $sub " "$O/out" || fail "--help does not list '$sub'"
done
expect_no_err

run 0 "$AF" --version
grep -Eqx 'atomicfile [0-9]+\.[0-9]+\.[0-9]+' "$O/out" ||
	fail "--version: expected 'atomicfile X.Y.Z', got '$(cat "$O/out")'"

for sub in $SUBS; do
	run 0 "$AF" "$sub" --help
	grep -q "^Usage: atomicfile $sub " "$O/out" ||
		fail "$sub --help: no 'Usage: atomicfile $sub' line"
	expect_no_err
done
run 0 "$AF" write -h
grep -q '^Usage: atomicfile write ' "$O/out" || fail "write -h: no usage"
for sub in $SUBS; do
	run 0 "$AF" "$sub" --version
	grep -Eqx 'atomicfile [0-9]+\.[0-9]+\.[0-9]+' "$O/out" ||
		fail "$sub --version: expected 'atomicfile X.Y.Z', got '$(cat "$O/out")'"
done

# Every usage error exits 2, says so on stderr, and touches nothing.
echo keep >a
echo keep2 >b
usage_error() {
	run 2 "$@" </dev/null
	[ -s "$O/err" ] || fail "'$*': no message on stderr"
	[ ! -s "$O/out" ] || fail "'$*': usage error printed on stdout"
}
usage_error "$AF"
usage_error "$AF" --bogus
usage_error "$AF" frobnicate
grep -q "unknown subcommand 'frobnicate'" "$O/err" || fail "no 'unknown subcommand' message"
usage_error "$AF" lock
usage_error "$AF" lock f
usage_error "$AF" lock f true
grep -q "expected '--' after FILE" "$O/err" || fail "lock: no message for a missing --"
usage_error "$AF" lock f --
usage_error "$AF" lock --timeout=-1 f -- true
usage_error "$AF" lock --timeout=1e3 f -- true
usage_error "$AF" lock --timeout=. f -- true
usage_error "$AF" lock --timeout=99999999999 f -- true
usage_error "$AF" lock --lock f -- true
usage_error "$AF" clean
usage_error "$AF" clean --older-than=1w .
usage_error "$AF" txn
usage_error "$AF" txn put a
usage_error "$AF" recover --sync=full
usage_error "$AF" verify --stats
usage_error "$AF" doctor
usage_error "$AF" doctor --sync=full .
usage_error "$AF" write --timeout=1 x
grep -q -- "--timeout needs --lock" "$O/err" || fail "no message for --timeout without --lock"
usage_error "$AF" write --lock --timeout=abc x
usage_error "$AF" rm --timeout=0 a
usage_error "$AF" cp --timeout=0 a b
usage_error "$AF" cat --lock a
usage_error "$AF" write
usage_error "$AF" write x y
usage_error "$AF" write --bogus x
usage_error "$AF" write --sync=bogus x
usage_error "$AF" write --sync x
usage_error "$AF" write --mode=999 x
usage_error "$AF" write --mode=abc x
usage_error "$AF" write --mode=17777 x
usage_error "$AF" write --mode= x
usage_error "$AF" create
usage_error "$AF" create --sync=fast x
usage_error "$AF" cat
usage_error "$AF" cat -C
usage_error "$AF" cat --mode=644 a
usage_error "$AF" rm
usage_error "$AF" rm --mode=644 a
usage_error "$AF" rm --no-follow a
usage_error "$AF" cp a
usage_error "$AF" cp a b x
usage_error "$AF" cp --exchange a b
usage_error "$AF" mv a
usage_error "$AF" mv a b x
usage_error "$AF" mv --progress a b
usage_error "$AF" mv --exchange --no-clobber a b
grep -q 'cannot be combined' "$O/err" || fail "no message for --exchange --no-clobber"
usage_error "$AF" patch a
usage_error "$AF" patch --offset=-1 a
usage_error "$AF" patch --offset=abc a
usage_error "$AF" patch --offset=99999999999999999999999 a
usage_error "$AF" patch --offset=1 a b
usage_error "$AF" patch --mode=644 --offset=1 a

expect_content a "keep
"
expect_content b "keep2
"
left=$(ls -A | tr '\n' ' ')
[ "$left" = "a b " ] || fail "usage errors created files: $left"
echo "PASS"
