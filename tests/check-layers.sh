#!/usr/bin/env bash
# check-layers.sh SRCDIR LIBOBJECT... [-- TOOLDIR TOOLOBJECT...]
#
# The library's modules call only downward, along the layers that the top
# comment of src/internal.h lists ("N name  file..." lines): this script
# reads that table, so that it is stated once.  It fails when
#   - a file of src/ (.c or .h) is in no layer, or an object in no file;
#   - an object file uses (nm -u) a symbol that an object of a higher
#     layer defines;
#   - the graph "object uses a symbol of object" has a cycle (tsort);
#   - a source of src/ includes a header of src/ of a higher layer;
#   - with "--": a source of TOOLDIR includes a header of src/ (anything
#     but atomicfile.h and its own headers), or a tool object uses an
#     afile_ symbol that the library does not export (readelf: GLOBAL
#     DEFAULT, i.e. AFILE_API in include/atomicfile.h).
set -u
src=$1
shift
libobjs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  libobjs+=("$1")
  shift
done
tooldir=
toolobjs=()
if [ "${1:-}" = "--" ]; then
  tooldir=$2
  shift 2
  toolobjs=("$@")
fi
status=0
fail() {
  echo "FAIL: $*"
  status=1
}

# The table: "file layer" lines.
table=$(sed -nE 's/^ \*   ([0-9]) [a-z]+ +(.*)$/\1 \2/p' "$src/internal.h" |
  awk '{for (i = 2; i <= NF; i++) print $i, $1}')
if [ -z "$table" ]; then
  echo "FAIL: no layer table in $src/internal.h"
  exit 1
fi
declare -A layer
while read -r f l; do layer[$f]=$l; done <<<"$table"

for f in "$src"/*.c "$src"/*.h; do
  b=$(basename "$f")
  [ -n "${layer[$b]:-}" ] || fail "src/$b is in no layer of src/internal.h"
done

# Symbols: "D obj sym" for each definition, "U obj sym" for each use; then
# one awk pass draws the edges and checks their direction.
syms=$(nm -A "${libobjs[@]}" | awk '{
  split($1, p, ":"); n = split(p[1], q, "/"); b = q[n]; sub(/\.o$/, "", b)
  if ($2 == "U") print "U", b, $3
  else if (NF == 3 && $2 ~ /^[TDBRCVW]$/) print "D", b, $3 }')
for o in "${libobjs[@]}"; do
  b=$(basename "$o" .o)
  [ -n "${layer[$b]:-}" ] || fail "object $b: its source is in no layer"
done
out=$( (echo "$table" | sed 's/^/L /'; echo "$syms") | awk '
  $1 == "L" {layer[$2] = $3; next}
  $1 == "D" {def[$3] = $2; next}
  $1 == "U" {use[++n] = $2 " " $3}
  END {
    for (i = 1; i <= n; i++) {
      split(use[i], u, " ")
      d = def[u[2]]
      if (d == "" || d == u[1]) continue
      if (!((u[1], d) in seen)) {
        seen[u[1], d] = 1
        print "E", u[1], d
      }
      if (layer[d] + 0 > layer[u[1]] + 0)
        print "X", u[1], layer[u[1]], u[2], d, layer[d]
    }
  }')
edges=$(echo "$out" | awk '$1 == "E" {print $2, $3}' | sort)
while read -r _ b lu s d ld; do
  [ -n "$b" ] || continue
  fail "$b (layer $lu) uses $s of $d (layer $ld): calls go downward;" \
    "hand a hook down instead (see src/internal.h)"
done <<<"$(echo "$out" | awk '$1 == "X"')"
cyc=$(echo "$edges" | tsort 2>&1 >/dev/null | sed -n 's/^tsort: \([^-]\)/\1/p')
[ -z "$cyc" ] || fail "the module graph has a cycle through:" $cyc

# Includes within src/: "file header" lines.
while read -r b h; do
  [ -n "$b" ] && [ -f "$src/$h" ] || continue
  lf=${layer[$b]:-}
  lh=${layer[$h]:-}
  if [ -n "$lf" ] && [ -n "$lh" ] && [ "$lh" -gt "$lf" ]; then
    fail "src/$b (layer $lf) includes $h (layer $lh)"
  fi
done <<<"$(awk 'match($0, /^#include "[^"]+"/) {
  h = substr($0, 11, RLENGTH - 11); n = split(FILENAME, q, "/")
  print q[n], h }' "$src"/*.c "$src"/*.h)"

if [ -n "$tooldir" ]; then
  while read -r b h; do
    [ -n "$b" ] || continue
    [ "$h" = atomicfile.h ] ||
      { [ "${h#*/}" = "$h" ] && [ -f "$tooldir/$h" ]; } ||
      fail "$b includes \"$h\": tools use only the public header"
  done <<<"$(awk 'match($0, /^#include "[^"]+"/) {
    h = substr($0, 11, RLENGTH - 11); n = split(FILENAME, q, "/")
    print q[n], h }' "$tooldir"/*.c "$tooldir"/*.h)"
  public=$(readelf -sW "${libobjs[@]}" |
    awk '$5 == "GLOBAL" && $6 == "DEFAULT" && $7 != "UND" {print $8}' |
    sort -u)
  bad=$(nm -A "${toolobjs[@]}" | awk '$2 == "U" && $3 ~ /^afile_/ {
    n = split($1, q, "/"); sub(/:$/, "", q[n]); print $3, q[n] }' |
    sort -u | join -v 1 - <(echo "$public"))
  [ -z "$bad" ] || fail "tools use what is not public API:" $bad
fi

if [ "$status" = 0 ]; then
  echo "ok: ${#libobjs[@]} objects in layers, $(echo "$edges" | wc -l)" \
    "edges, none upward, no cycle; ${#toolobjs[@]} tool objects use only" \
    "the public API"
fi
exit $status
