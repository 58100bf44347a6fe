/* SPDX-License-Identifier: MIT */
/*
 * incr.c - N locked increments of a decimal counter through
 * afile_update(), for the cross-client GlusterFS suite (gluster.sh).
 *
 * Usage: afile_gluster_incr FILE N
 * Prints "ok N" when every increment was acknowledged; on the first
 * failure prints the error (step, path, reason) and how many increments
 * were acknowledged before it, and exits 1.  An increment that returned
 * 0 is acknowledged: the suite checks that none of them was lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomicfile.h>

static int
incr(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	char buf[32];
	long n = 0;
	int len;

	(void)ctx;
	if (old && old_len) {
		char *end;

		n = strtol(old, &end, 10);
		if (end == old || (*end != '\n' && *end != '\0'))
			return -EBADMSG;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", n + 1);
	return afile_writer_write(w, buf, (size_t)len);
}

int
main(int argc, char **argv)
{
	struct afile_errinfo err;
	struct afile_opts opts = AFILE_OPTS_INIT;
	struct afile_stats st = {.size = sizeof(st)};
	long n;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FILE N\n", argv[0]);
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	opts.err = &err;
	for (long k = 0; k < n; k++) {
		memset(&err, 0, sizeof(err));
		r = afile_update(AT_FDCWD, argv[1], incr, NULL, 0, &opts);
		if (r < 0) {
			fprintf(stderr,
			    "afile_gluster_incr: %s '%s': %s (%s); %ld "
			    "increments acknowledged\n",
			    err.step ? err.step : "update", argv[1],
			    afile_strerror(r), afile_err_name(r), k);
			return 1;
		}
	}
	printf("ok %ld\n", n);
	/* Stale views waited out (and EINTR or short transfers retried). */
	if (afile_stats_get(&st) == 0)
		printf("retries %llu\n", (unsigned long long)st.retries);
	return 0;
}
