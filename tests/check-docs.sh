#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-docs.sh - keep the documentation and the public interface in step.
#
# Usage: check-docs.sh SRCDIR LIBFILE
#   SRCDIR   the source tree (include/atomicfile.h, docs/man, docs/symbols)
#   LIBFILE  the built libatomicfile (shared object, or a static archive)
#
# The header is the contract, so everything is checked against the set of
# functions declared with AFILE_API in include/atomicfile.h:
#   - every such function has docs/man/NAME.3, whose SYNOPSIS gives the
#     same prototype, and atomicfile.3 lists it;
#   - every man page in section 3 documents a function of the header, or
#     is one of the overview pages;
#   - docs/symbols (name introduced deprecated removed) lists exactly the
#     functions of the header as not removed;
#   - every symbol the library exports has the afile_ prefix and is in
#     docs/symbols;
#   - every AFILE_E* code of AFILE_ERROR_MAP, with its value, is in
#     afile_errors.3;
#   - every page passes "mandoc -T lint -W warning".
# Every problem is listed, then the script exits 1.  Without mandoc it
# exits 77 (skip) once the other checks pass, unless
# AFILE_REQUIRE_PRIV_TESTS=1 (CI), where a missing tool is a failure.
# (These are the documentation tests of curl: 1119, 1139, 1167, 1173, 1477.)

set -u
export LC_ALL=C

if [ $# -ne 2 ]; then
	echo "usage: $0 SRCDIR LIBFILE" >&2
	exit 2
fi
srcdir=$1
libfile=$2
header=$srcdir/include/atomicfile.h
mandir=$srcdir/docs/man
symbols=$srcdir/docs/symbols

# Pages in section 3 that document no single function.
overview_pages="atomicfile afile_errors"

problems=0
problem() {
	echo "check-docs: $*"
	problems=$((problems + 1))
}

require_file() {
	if [ ! -f "$1" ]; then
		echo "check-docs: missing $1" >&2
		exit 1
	fi
}
require_file "$header"
require_file "$symbols"
require_file "$libfile"
if [ ! -d "$mandir" ]; then
	echo "check-docs: missing $mandir" >&2
	exit 1
fi

# Print "NAME<TAB>PROTOTYPE" for each AFILE_API function of the header,
# the prototype normalized by normalize below.  Comments and preprocessor
# lines (with their continuations) are dropped first, then the text is cut
# into declarations at ';', '{' and '}', so that a declaration may span any
# number of lines.  The name is the first identifier followed by '(' that
# is not a macro (ALL_CAPS) or reserved (__x), so that an attribute macro
# in front of the name does not hide it.
header_functions() {
	awk '
	{ buf = buf $0 "\n" }
	END {
		out = ""
		s = buf
		while ((i = index(s, "/*")) > 0) {
			out = out substr(s, 1, i - 1) " "
			s = substr(s, i + 2)
			j = index(s, "*/")
			if (j == 0) {
				s = ""
				break
			}
			c = substr(s, 1, j - 1)
			gsub(/[^\n]/, "", c)	# keep the line structure
			out = out c
			s = substr(s, j + 2)
		}
		out = out s
		n = split(out, lines, "\n")
		text = ""
		cont = 0
		for (k = 1; k <= n; k++) {
			line = lines[k]
			if (cont || line ~ /^[ \t]*#/) {
				cont = (line ~ /\\[ \t]*$/)
				continue
			}
			sub(/\/\/.*/, "", line)
			text = text " " line
		}
		m = split(text, decls, /[;{}]/)
		for (k = 1; k <= m; k++) {
			d = decls[k]
			if (d !~ /(^|[^A-Za-z0-9_])AFILE_API([^A-Za-z0-9_]|$)/)
				continue
			rest = d
			name = ""
			while (match(rest, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
				id = substr(rest, RSTART, RLENGTH)
				sub(/[ \t]*\($/, "", id)
				rest = substr(rest, RSTART + RLENGTH)
				if (id ~ /^__/ || id !~ /[a-z]/)
					continue
				name = id
				break
			}
			if (name == "") {
				print "?\t" d
				continue
			}
			sub(/(^|[ \t])AFILE_API[ \t]/, " ", d)
			# A tab inside the declaration (clang-format indents a
			# wrapped parameter list with one) would end the field.
			gsub(/\t/, " ", d)
			print name "\t" d
		}
	}' "$header"
}

# Collapse a C prototype to one canonical spelling: no space next to
# "*", "(", ")" or ",", single spaces elsewhere.
normalize() {
	sed -e 's/[[:space:]][[:space:]]*/ /g' \
	    -e 's/ *\([*(),]\) */\1/g' -e 's/^ //' -e 's/ $//'
}

# The prototype in the SYNOPSIS of man page $1 for function $2, built from
# its .Ft, .Fo, .Fa and .Fc lines.
page_prototype() {
	awk -v fn="$2" '
	function unquote(s) {
		sub(/^[ \t]+/, "", s)
		gsub(/"/, "", s)
		return s
	}
	/^\.Ft / { type = unquote(substr($0, 5)) }
	$0 == ".Fo " fn { on = 1; args = ""; next }
	on && /^\.Fa / {
		a = unquote(substr($0, 5))
		args = (args == "") ? a : args ", " a
		next
	}
	on && /^\.Fc/ { print type " " fn "(" args ")"; exit }
	' "$1"
}

# ---------------------------------------------------------------- header

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

header_functions >"$tmp/decls"
if grep -q '^?' "$tmp/decls"; then
	while IFS=$'\t' read -r _ d; do
		problem "cannot find the function name in AFILE_API declaration:$d"
	done < <(grep '^?' "$tmp/decls")
fi
grep -v '^?' "$tmp/decls" | cut -f1 | sort >"$tmp/api"
if [ ! -s "$tmp/api" ]; then
	problem "no AFILE_API function found in $header (is the parser broken?)"
fi
for dup in $(uniq -d "$tmp/api"); do
	problem "$dup is declared twice in $header"
done
sort -u -o "$tmp/api" "$tmp/api"

# ---------------------------------------------------------------- man pages

while read -r fn; do
	page=$mandir/$fn.3
	if [ ! -f "$page" ]; then
		problem "$fn is declared in atomicfile.h but has no man page docs/man/$fn.3"
		continue
	fi
	if ! grep -qx "\.Nm $fn" "$page"; then
		problem "docs/man/$fn.3 has no '.Nm $fn'"
	fi
	want=$(awk -F'\t' -v fn="$fn" '$1 == fn { print $2; exit }' \
	    "$tmp/decls" | normalize)
	got=$(page_prototype "$page" "$fn" | normalize)
	if [ -z "$got" ]; then
		problem "docs/man/$fn.3: no '.Fo $fn' ... '.Fc' prototype in the SYNOPSIS"
	elif [ "$got" != "$want" ]; then
		problem "docs/man/$fn.3: SYNOPSIS '$got' differs from the header '$want'"
	fi
	if [ -f "$mandir/atomicfile.3" ] &&
	    ! grep -q "^\.It Xr $fn 3\$" "$mandir/atomicfile.3"; then
		problem "atomicfile.3 does not list $fn in its list of functions"
	fi
done <"$tmp/api"

for p in $overview_pages; do
	[ -f "$mandir/$p.3" ] || problem "missing overview page docs/man/$p.3"
done
[ -f "$mandir/atomicfile.1" ] || problem "missing docs/man/atomicfile.1"
[ -f "$mandir/atomicfile.7" ] || problem "missing docs/man/atomicfile.7 (file systems)"

for page in "$mandir"/*.3; do
	[ -e "$page" ] || continue
	name=$(basename "$page" .3)
	case " $overview_pages " in
	*" $name "*) continue ;;
	esac
	if ! grep -qx "$name" "$tmp/api"; then
		problem "docs/man/$name.3 documents $name, which atomicfile.h does not declare with AFILE_API"
	fi
done

# ---------------------------------------------------------------- symbols

version=$(sed -n 's/^#define AFILE_VERSION_STRING "\(.*\)"$/\1/p' "$header")
: >"$tmp/ledger"
: >"$tmp/removed"
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	case $line in
	'' | '#'*) continue ;;
	esac
	read -r name intro depr removed extra <<<"$line"
	where="docs/symbols:$lineno"
	if [ -z "${removed:-}" ] || [ -n "${extra:-}" ]; then
		problem "$where: want 'name introduced deprecated removed': $line"
		continue
	fi
	case $name in
	afile_*) ;;
	*) problem "$where: $name lacks the afile_ prefix" ;;
	esac
	vre='^[0-9]+\.[0-9]+\.[0-9]+$'
	if ! [[ $intro =~ $vre ]]; then
		problem "$where: introduced '$intro' is not a version X.Y.Z"
	elif [ -n "$version" ] && [ "$(printf '%s\n%s\n' "$intro" "$version" |
	    sort -V | tail -n1)" != "$version" ]; then
		problem "$where: $name introduced in $intro, after the header's version $version"
	fi
	for v in "$depr" "$removed"; do
		if [ "$v" != - ] && ! [[ $v =~ $vre ]]; then
			problem "$where: '$v' is neither '-' nor a version X.Y.Z"
		fi
	done
	if grep -qx "$name" "$tmp/ledger" "$tmp/removed"; then
		problem "$where: $name is listed twice"
	fi
	if [ "$removed" = - ]; then
		echo "$name" >>"$tmp/ledger"
	else
		echo "$name" >>"$tmp/removed"
	fi
done <"$symbols"
sort -o "$tmp/ledger" "$tmp/ledger"
sort -o "$tmp/removed" "$tmp/removed"

for fn in $(comm -23 "$tmp/api" "$tmp/ledger"); do
	if grep -qx "$fn" "$tmp/removed"; then
		problem "$fn is marked removed in docs/symbols but atomicfile.h still declares it"
	else
		problem "$fn is declared in atomicfile.h but missing from docs/symbols"
	fi
done
for fn in $(comm -13 "$tmp/api" "$tmp/ledger"); do
	problem "$fn is in docs/symbols (not removed) but atomicfile.h does not declare it"
done

# ---------------------------------------------------------------- exports

# A shared object exports its dynamic symbols.  A static archive has no
# export list, so its global symbols are taken instead, minus the
# internal afile__ ones that the shared object hides.
if ! command -v nm >/dev/null 2>&1; then
	problem "nm not found: cannot check the exported symbols"
else
	case $libfile in
	*.a) static=1 nm_args="--defined-only -g" ;;
	*) static=0 nm_args="-D --defined-only" ;;
	esac
	# shellcheck disable=SC2086 # nm_args is a list of options
	if ! nm_out=$(nm $nm_args "$libfile" 2>&1); then
		problem "nm failed on $libfile: $nm_out"
	fi
	# Symbols every shared object defines, which belong to the linker.
	linker_syms=" _init _fini _edata _end __bss_start "
	printf '%s\n' "$nm_out" | awk 'NF == 3 && $2 == "T" { print $3 }' |
	    sed 's/@.*//' | sort -u >"$tmp/exported"
	if [ ! -s "$tmp/exported" ]; then
		problem "$libfile exports no function (wrong file?)"
	fi
	while read -r sym; do
		case $linker_syms in
		*" $sym "*) continue ;;
		esac
		if [ "$static" = 1 ]; then
			case $sym in
			afile__*) continue ;;
			esac
		fi
		case $sym in
		afile_*) ;;
		*)
			problem "$libfile exports $sym, which lacks the afile_ prefix"
			continue
			;;
		esac
		if ! grep -qx "$sym" "$tmp/ledger"; then
			problem "$libfile exports $sym, which is not in docs/symbols"
		fi
	done <"$tmp/exported"
	for fn in $(comm -23 "$tmp/ledger" "$tmp/exported"); do
		problem "$fn is in docs/symbols but $libfile does not export it"
	done
fi

# ---------------------------------------------------------------- errors

errpage=$mandir/afile_errors.3
sed -n 's/^.*X(\(E[A-Z0-9_]*\), *\(-[0-9][0-9]*\),.*$/\1 \2/p' "$header" \
    >"$tmp/errors"
if [ ! -s "$tmp/errors" ]; then
	problem "no AFILE_ERROR_MAP entry found in $header (is the parser broken?)"
fi
if [ -f "$errpage" ]; then
	while read -r code value; do
		if ! grep -q "AFILE_$code\\([^A-Z0-9_]\\|\$\\)" "$errpage"; then
			problem "AFILE_$code is missing from afile_errors.3"
		elif ! grep "AFILE_$code\\([^A-Z0-9_]\\|\$\\)" "$errpage" |
		    grep -q "\\\\\\{0,1\\}-${value#-}\\([^0-9]\\|\$\\)"; then
			problem "afile_errors.3 does not give AFILE_$code its value $value"
		fi
	done <"$tmp/errors"
fi

# ---------------------------------------------------------------- lint

have_mandoc=1
if ! command -v mandoc >/dev/null 2>&1; then
	have_mandoc=0
else
	for page in "$mandir"/*.[1-9]; do
		[ -e "$page" ] || continue
		out=$(mandoc -T lint -W warning "$page" 2>&1)
		if [ -n "$out" ]; then
			problem "mandoc lint of docs/man/$(basename "$page"):"
			printf '%s\n' "$out" | sed 's/^/    /'
		fi
	done
fi

# ---------------------------------------------------------------- verdict

if [ "$problems" -gt 0 ]; then
	[ "$have_mandoc" = 1 ] || echo "check-docs: (mandoc missing: the pages were not linted)"
	echo "check-docs: FAIL: $problems problem(s)"
	exit 1
fi
if [ "$have_mandoc" = 0 ]; then
	if [ "${AFILE_REQUIRE_PRIV_TESTS:-0}" = 1 ]; then
		echo "check-docs: FAIL: mandoc missing (AFILE_REQUIRE_PRIV_TESTS=1)"
		exit 1
	fi
	echo "SKIP: mandoc missing"
	exit 77
fi
echo "check-docs: OK: $(wc -l <"$tmp/api") functions, all documented and exported as listed"
exit 0
