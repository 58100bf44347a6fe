# unsynced.sh - the one failure that publishes: the final directory sync
# fails (AFILE_EUNSYNCED).  The tool exits 1 with the library's message,
# and the new state is visible.  Run as "bash unsynced.sh TOOL SHIM", SHIM
# being failsync.so, which makes fsync() of a directory fail with EIO.
. "$(dirname "$0")/lib.sh"

SHIM=${2:?usage: $0 PATH-TO-atomicfile PATH-TO-failsync.so}
[ -f "$SHIM" ] || fail "$SHIM: no such shim"
# A sanitizer runtime wants to come first; the shim is harmless before it.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
# LD_PRELOAD splits paths at spaces: name the shim by its file name and
# let the loader find it through LD_LIBRARY_PATH, which does not.
unsynced() {
	LD_LIBRARY_PATH=${SHIM%/*}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		LD_PRELOAD=${SHIM##*/} "$@"
}
MSG='published, but the directory sync failed: visible, not known durable'

printf 'old\n' >f
printf 'new\n' | run 1 unsynced "$AF" write f
expect_err_re "^atomicfile: write 'f': (.+: )?$MSG$"
expect_content f "new
"
printf 'c\n' | run 1 unsynced "$AF" create c
expect_err_re "^atomicfile: create 'c': (.+: )?$MSG$"
expect_content c "c
"
run 1 unsynced "$AF" rm c
expect_err_re "^atomicfile: rm 'c': (.+: )?$MSG$"
[ ! -e c ] || fail "rm: c still exists"
run 1 unsynced "$AF" cp f g
expect_err_re "^atomicfile: cp 'g': (.+: )?$MSG$"
expect_content g "new
"
run 1 unsynced "$AF" mv g h
expect_err_re "^atomicfile: mv 'h': (.+: )?$MSG$"
expect_content h "new
"
printf X | run 1 unsynced "$AF" patch --offset=0 h
expect_err_re "^atomicfile: patch 'h': (.+: )?$MSG$"
expect_content h "Xew
"
run 1 unsynced "$AF" write -q f </dev/null
expect_no_err

# Levels that do not sync the directory do not notice.
printf 'data\n' | run 0 unsynced "$AF" write --sync=data f
expect_content f "data
"
printf 'none\n' | run 0 unsynced "$AF" write --sync=none f
expect_content f "none
"
# Without the shim all is well (the shim, not the tool, made it fail).
printf 'ok\n' | run 0 "$AF" write f
no_temps
echo "PASS"
