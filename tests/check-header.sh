#!/usr/bin/env bash
# check-header.sh CC HEADER_DIR - the public header compiles on its own as
# C99 -pedantic and, where a C++ compiler exists, as C++11.
set -eu
cc=$1 inc=$2
printf '#include <atomicfile.h>\nint main(void) { return afile_version() ? 0 : 1; }\n' |
  "$cc" -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$inc" -x c -
echo "ok: C99 -pedantic"
if command -v c++ >/dev/null 2>&1; then
  printf '#include <atomicfile.h>\nint main() { return afile_version() ? 0 : 1; }\n' |
    c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I"$inc" -x c++ -
  echo "ok: C++11"
else
  echo "SKIP: no C++ compiler for the C++ check"
fi
