#!/bin/bash
# SPDX-License-Identifier: MIT
#
# sync-sweep.sh - is every sync call in src/ load-bearing?  (issue 9)
#
# For every call site of a sync primitive in src/ outside sys.c and wrap.c,
# build a mutant of the library in which that one call is replaced by
# success (it returns 0 and syncs nothing), run the fast test tiers on it
# until one fails, and print a table: site (file:line:function, callee),
# then the test that killed the mutant or SURVIVED.  A survivor is a sync
# no test needs: write a test that fails without it (a power cut in the
# simulator or on holdfs that shows the lost state), or remove the call
# with the reason.
#
# The sites are derived from the source, never listed here: a "sync
# primitive" is any function defined in src/*.c whose name contains "sync"
# and that returns int (afile__fsync, afile__fsync_dir, afile__syncfs, the
# sync.c helpers afile__sync_file/_dir/_dir_lax, afile__sync_dirs,
# afile__fs_sync, afile__writer_sync*, batch_sync*, sync_staged, ...; the
# bool predicates afile__use_syncfs and afile__real_syncs are not), and a
# site is a call of one outside a comment or string.  A new sync call is
# swept without touching this script.  A call of a helper and the calls
# inside the helper are separate sites: dropping the helper's own fsync
# drops every caller's.
#
# The mutant: a copy of the tree (git ls-files) under WORK/tree in which
# the callee's name at that site is replaced by AFILE__SWEEP_OK, a macro
# (defined on top of the file) that expands to 0 and drops the arguments.
# One build tree (WORK/build, RelWithDebInfo, no sanitizers, -Werror off:
# a dropped call may leave an unused variable) is rebuilt incrementally
# per site.  The unmutated tree runs the test list first; a test that
# fails there is dropped from the list (said so loudly), since it would
# "kill" every mutant.
#
# NOT a CTest test (it takes an hour or more on 2 cores: about 45 sites,
# a rebuild each, and a survivor runs every tier).  Run it by hand:
#
#   scripts/sync-sweep.sh [--list] [--sites REGEX] [--work DIR]
#                         [--no-baseline]
#
#   --list        print the sites and exit
#   --sites RE    sweep only the sites whose "file:line:function:callee"
#                 matches the extended regex RE (e.g. 'ops.c|commit.c')
#   --work DIR    working directory (default: build-sweep in the worktree,
#                 ignored by git); the table is also written to DIR/table
#   --no-baseline skip the unmutated run (about 11 minutes on 2 cores):
#                 only for a rerun of a tree whose tests are known to pass
#
# Tests, in this order (the ones that kill most mutants first; stop at
# the first failure): simfs-litmus, simfs-ops, simfs-txn, every unit-*
# test, simfs-mutation, cli-mv,
# cli-txn, cli-recover, fault-torture, fault-recover, crash-txn,
# fusefs-ops, realfs-mv-xdev, realfs-ops-ext4, simfs-faults-abandoned,
# simfs-faults-commit-refused, simfs-faults.  AFILE_SWEEP_TESTS="a b c"
# replaces the list (names as ctest -N prints them).  The privileged ones
# (fusefs-*, realfs-*) skip without root, FUSE or loop devices: a skip
# kills nothing, so run as root for the full answer.
#
# Logs: WORK/log/SITE.log (build and the failing test's output).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
work=$src/build-sweep
list_only=0
filter=
baseline=1
while [ $# -gt 0 ]; do
	case $1 in
	--list) list_only=1 ;;
	--sites) filter=$2; shift ;;
	--work) work=$2; shift ;;
	--no-baseline) baseline=0 ;;
	*)
		echo "usage: $0 [--list] [--sites REGEX] [--work DIR]" \
			"[--no-baseline]" >&2
		exit 2
		;;
	esac
	shift
done

# Print "file line col callee function" for every site, file relative to
# the tree; comments and strings are blanked first (line numbers kept).
list_sites() {
	perl -e '
		my (%text, %sync);
		for my $f (sort glob("src/*.c")) {
			open(my $h, "<", $f) or die "$f: $!";
			local $/;
			my $t = <$h>;
			$t =~ s{/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27}
			    {(my $c = $&) =~ s/[^\n]/ /g; $c}gse;
			$text{$f} = $t;
			# Definitions: the return type alone on the line before.
			$sync{$1} = 1
			    while $t =~ /^(?:static\s+)?int[ \t]*\n(\w*sync\w*)\(/mg;
		}
		my $names = join("|", sort keys %sync);
		for my $f (sort keys %text) {
			next if $f =~ m{/(sys|wrap)\.c$};
			my $t = $text{$f};
			while ($t =~ /\b($names)\s*\(/g) {
				my ($name, $at) = ($1, $-[1]);
				my $before = substr($t, 0, $at);
				my $line = ($before =~ tr/\n//) + 1;
				my $col = $at - (rindex($before, "\n") + 1);
				next if $col == 0; # a definition or declaration
				my $fn = "?";
				$fn = $1 while $before =~ /^(\w+)\(/mg;
				print "$f $line $col $name $fn\n";
			}
		}'
}

# A snapshot of the tree now: the sites, the mutants and every restore
# come from it, so edits in the worktree during a run change nothing.
mkdir -p "$work/log"
pristine=$work/pristine
tree=$work/tree
build=$work/build
rm -rf "$pristine"
mkdir -p "$pristine"
(cd "$src" && git ls-files -co --exclude-standard -z |
	tar --null -T - -cf -) | tar -xf - -C "$pristine"
cd "$pristine"
sites=$(list_sites)
if [ -n "$filter" ]; then
	sites=$(printf '%s\n' "$sites" |
		awk '{ print $1 ":" $2 ":" $5 ":" $4 "\t" $0 }' |
		grep -E -- "$filter" | cut -f2- || true)
fi
if [ -z "$sites" ]; then
	echo "sync-sweep: no sync call sites found (filter: '$filter')" >&2
	exit 1
fi
if [ "$list_only" = 1 ]; then
	printf '%s\n' "$sites" | awk '{ printf "%s:%s:%s\t%s\n", $1, $2, $5, $4 }'
	exit 0
fi

rm -rf "$tree"
# New timestamps: everything is rebuilt once, so that no object of a
# mutant from an interrupted run survives into the baseline.
cp -r "$pristine" "$tree"
# Mutants build without -Werror: the dropped call's arguments may be the
# only use of a variable, its callee the only use of a static function.
cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DAFILE_WERROR=OFF -DAFILE_SANITIZE= >"$work/log/configure.log" 2>&1 ||
	{ cat "$work/log/configure.log" >&2; exit 1; }

build_tree() {
	cmake --build "$build" -j "$(nproc)" </dev/null >"$1" 2>&1
}

if [ -n "${AFILE_SWEEP_TESTS:-}" ]; then
	tests=$AFILE_SWEEP_TESTS
else
	all=$(ctest --test-dir "$build" -N 2>/dev/null |
		sed -n 's/^ *Test *#[0-9]*: //p')
	tests="simfs-litmus simfs-ops simfs-txn "
	tests+="$(printf '%s\n' "$all" | grep '^unit-' | tr '\n' ' ')"
	tests+=" simfs-mutation cli-mv"
	tests+=" cli-txn cli-recover fault-torture fault-recover crash-txn"
	tests+=" fusefs-ops realfs-mv-xdev realfs-ops-ext4"
	tests+=" simfs-faults-abandoned simfs-faults-commit-refused"
	tests+=" simfs-faults"
fi

# run_test NAME LOG: 0 passed (or skipped), 1 failed.
run_test() {
	ctest --test-dir "$build" -R "^$1\$" --output-on-failure \
		</dev/null >>"$2" 2>&1
}

echo "sync-sweep: baseline (unmutated) build and tests" >&2
build_tree "$work/log/baseline.log" ||
	{ tail -30 "$work/log/baseline.log" >&2; exit 1; }
if [ "$baseline" = 1 ]; then
	kept=
	for t in $tests; do
		if run_test "$t" "$work/log/baseline.log"; then
			kept+=" $t"
		else
			echo "sync-sweep: WARNING: $t fails unmutated; left" \
				"out (see $work/log/baseline.log)" >&2
		fi
	done
	tests=$kept
fi
echo "sync-sweep: tests:$tests" >&2

table=$work/table
printf '%-44s %-22s %s\n' SITE CALLEE KILLED-BY | tee "$table"
survivors=0
while read -r -u 3 file line col callee fn; do
	site="$file:$line:$fn"
	slug=$(printf '%s' "$site" | tr '/:' '__')
	log=$work/log/$slug.log
	# Mutate this one site (the tree is pristine between sites).
	perl -e '
		my ($line, $col, $name, $f) = @ARGV;
		open(my $in, "<", $f) or die "$f: $!";
		my @l = <$in>;
		close($in);
		substr($l[$line - 1], $col, length($name)) eq $name
		    or die "site moved: line $line col $col is not $name\n";
		substr($l[$line - 1], $col, length($name)) = "AFILE__SWEEP_OK";
		open(my $out, ">", $f) or die "$f: $!";
		print $out "#define AFILE__SWEEP_OK(...) 0\n", @l;
		close($out) or die "$f: $!";
	' "$line" "$col" "$callee" "$tree/$file"
	killed=
	if ! build_tree "$log"; then
		killed="(build failed: $log)"
	else
		for t in $tests; do
			if ! run_test "$t" "$log"; then
				killed=$t
				break
			fi
		done
	fi
	if [ -z "$killed" ]; then
		killed=SURVIVED
		survivors=$((survivors + 1))
	fi
	printf '%-44s %-22s %s\n' "$site" "$callee" "$killed" | tee -a "$table"
	cp "$pristine/$file" "$tree/$file" # a new mtime: rebuilt
done 3<<<"$sites"

echo "sync-sweep: $survivors survivor(s); table in $table" >&2
[ "$survivors" = 0 ]
