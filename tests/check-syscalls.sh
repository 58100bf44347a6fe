#!/usr/bin/env bash
# check-syscalls.sh OBJECT... - the library calls the OS only through src/sys.c.
#
# Every object file of the library but sys.c.o must leave no reference to a
# system call or to the allocator: those go through the syscall table, so that
# tests can fail, trace or simulate every one of them.  sys.c.o itself must
# reference them (otherwise this check could pass by not seeing anything).
set -u
banned='^(__)?(open|openat|creat|read|write|pread|pwrite|readv|writev|fsync|fdatasync|sync|syncfs|sync_file_range|rename|renameat|renameat2|link|linkat|symlink|symlinkat|unlink|unlinkat|mkdir|mkdirat|rmdir|close|close_range|fcntl|ioctl|ftruncate|truncate|fallocate|posix_fallocate|copy_file_range|sendfile|splice|fchmod|fchmodat|chmod|fchown|fchownat|chown|lchown|futimens|utimensat|fstat|fstatat|stat|lstat|statx|readlink|readlinkat|getrandom|flistxattr|fgetxattr|fsetxattr|listxattr|llistxattr|getxattr|lgetxattr|setxattr|lsetxattr|fremovexattr|flock|lseek|syscall|dup|dup2|dup3|mmap|munmap|malloc|calloc|realloc|free|strdup|strndup|geteuid|getuid|clock_gettime|openat2|faccessat|access|umask|getenv)(64)?(_2|_chk)?$'
status=0
seen_sys=0
for o in "$@"; do
  syms=$(nm -u "$o" | awk '{print $2}' | sed 's/@.*//')
  case "$o" in
    */sys.c.o)
      echo "$syms" | grep -Eq "$banned" && seen_sys=1
      continue ;;
  esac
  bad=$(echo "$syms" | grep -E "$banned" || true)
  if [ -n "$bad" ]; then
    echo "FAIL: $(basename "$o") calls the OS directly (use src/sys.c):" $bad
    status=1
  fi
done
if [ "$seen_sys" != 1 ]; then
  echo "FAIL: sys.c.o not among the objects, or nm sees no system call in it"
  status=1
fi
[ "$status" = 0 ] && echo "ok: $# objects, only sys.c.o calls the OS"
exit $status
