/* SPDX-License-Identifier: MIT */
/*
 * ofdhold.c - a stand-in for a live writer, for the CLI tests: takes an
 * exclusive OFD lock on FILE (as the library's writers lock their named
 * temps), prints "locked", and holds the lock until standard input ends.
 * Usage: ofdhold FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct flock fl;
	char buf[64];
	int fd;

	if (argc != 2) {
		(void)fputs("usage: ofdhold FILE\n", stderr);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		perror("F_OFD_SETLK");
		return 1;
	}
	(void)printf("locked\n");
	(void)fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
