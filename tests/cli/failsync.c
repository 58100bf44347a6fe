/* SPDX-License-Identifier: MIT */
/*
 * failsync.c - an LD_PRELOAD shim for the CLI tests: fsync() of a
 * directory fails with EIO, so that a test can watch the tool report
 * AFILE_EUNSYNCED (published, not known durable) end to end.  fsync() of
 * anything else goes straight to the kernel.
 *
 * It is built without sanitizers: it is loaded ahead of the tool, where
 * a sanitizer runtime of its own would conflict with the tool's.
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int fsync(int fd);

int
fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}
