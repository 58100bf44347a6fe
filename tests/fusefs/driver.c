/* SPDX-License-Identifier: MIT */
/*
 * driver.c - library calls for the FUSE crash suite (holdfs.c).
 *
 *   driver many DIR N GEN      afile_write_many of N files m000.. in DIR
 *   driver txn ROOT N GEN      one transaction putting N files t000..
 *   driver stream ROOT G0 COUNT  COUNT generations from G0 + 1, alternately a
 *                              transaction of t000..t004 and a batch of
 *                              m000..m004, each printing "ack KIND GEN"
 *                              once the call returned 0
 *   driver check ROOT          after a power cut and recovery: the t*
 *                              files all of one generation (all or
 *                              nothing), every file whole; prints
 *                              "txn GEN" and "many GEN" (the oldest
 *                              batch file's), or fails
 *
 * many and txn print "level L", the durability level reached
 * (opts.ret_sync: 0 full, 1 data).
 *
 * A file of generation G holds "gen G\n" and then G-dependent filler of a
 * G-dependent size, so a torn, empty or mixed file is never mistaken for
 * a whole one.  Generation 0 is "absent".
 */
#include <atomicfile.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSTREAM 5
#define MAXLEN  70000

static size_t
content(unsigned long gen, unsigned int k, char *buf)
{
	size_t len = 100 + (gen * 7919 + k * 104729) % (MAXLEN - 200);
	int n = snprintf(buf, 64, "gen %lu\n", gen);

	for (size_t i = (size_t)n; i < len; i++)
		buf[i] = (char)('a' + (gen * 31 + k + i) % 26);
	return len;
}

static int
put_many(int dfd, unsigned int n, unsigned long gen)
{
	struct afile_item *it = calloc(n, sizeof(*it));
	char(*names)[16] = calloc(n, sizeof(*names));
	char *bufs = malloc((size_t)n * MAXLEN);
	int r;

	if (!it || !names || !bufs)
		return -ENOMEM;
	for (unsigned int k = 0; k < n; k++) {
		snprintf(names[k], sizeof(names[k]), "m%03u", k);
		it[k].path = names[k];
		it[k].buf = bufs + (size_t)k * MAXLEN;
		it[k].len = content(gen, k, bufs + (size_t)k * MAXLEN);
	}
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int level = 9;

	o.ret_sync = &level;
	r = afile_write_many(dfd, it, n, 0, &o);
	if (r == 0)
		printf("level %u\n", level);
	free(it), free(names), free(bufs);
	return r;
}

static int
put_txn(int dfd, unsigned int n, unsigned long gen)
{
	static char buf[MAXLEN];
	struct afile_opts o = AFILE_OPTS_INIT;
	unsigned int level = 9;
	struct afile_txn *t;
	char name[16];
	int r;

	o.ret_sync = &level;
	r = afile_txn_begin(dfd, ".", 0, &o, &t);

	for (unsigned int k = 0; r == 0 && k < n; k++) {
		snprintf(name, sizeof(name), "t%03u", k);
		r = afile_txn_put(t, name, buf, content(gen, k, buf), 0);
	}
	if (r == 0)
		r = afile_txn_commit(t);
	afile_txn_free(t);
	if (r == 0)
		printf("level %u\n", level);
	return r;
}

/* Generation of @name (0: absent), -1 if not a whole file of one. */
static long
gen_of(int dfd, const char *name, unsigned int k)
{
	static char want[MAXLEN], got[MAXLEN + 1];
	unsigned long gen;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, got, sizeof(got));
	close(fd);
	if (n <= 0 || sscanf(got, "gen %lu\n", &gen) != 1)
		return -1;
	if ((size_t)n != content(gen, k, want) || memcmp(want, got, (size_t)n))
		return -1;
	return (long)gen;
}

static int
check(int dfd)
{
	long tg = -2, mg = -2;
	char name[16];

	for (unsigned int k = 0; k < NSTREAM; k++) {
		long g;

		snprintf(name, sizeof(name), "t%03u", k);
		g = gen_of(dfd, name, k);
		if (g < 0 || (tg != -2 && g != tg)) {
			printf("FAIL: %s is of generation %ld, t000 of %ld: "
			       "not all or nothing\n",
			    name, g, tg);
			return 1;
		}
		tg = g;
		snprintf(name, sizeof(name), "m%03u", k);
		g = gen_of(dfd, name, k);
		if (g < 0) {
			printf("FAIL: %s is not a whole file of a generation\n",
			    name);
			return 1;
		}
		mg = mg == -2 || g < mg ? g : mg;
	}
	printf("txn %ld\nmany %ld\n", tg, mg);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long a, b = 0;
	int dfd, r = 0;

	if (argc < 3 || (strcmp(argv[1], "check") && argc < 4)) {
		fprintf(stderr,
		    "usage: driver many|txn DIR N GEN | stream "
		    "ROOT G0 COUNT | check ROOT\n");
		return 2;
	}
	dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "check"))
		return check(dfd);
	a = strtoul(argv[3], NULL, 10);
	if (argc > 4)
		b = strtoul(argv[4], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "many"))
		r = put_many(dfd, (unsigned int)a, b);
	else if (!strcmp(argv[1], "txn"))
		r = put_txn(dfd, (unsigned int)a, b);
	else if (!strcmp(argv[1], "stream"))
		for (unsigned long g = a + 1; r == 0 && g <= a + b; g++) {
			bool txn = g % 2;

			r = txn ? put_txn(dfd, NSTREAM, g)
				: put_many(dfd, NSTREAM, g);
			if (r == 0)
				printf("ack %s %lu\n", txn ? "txn" : "many", g);
		}
	else
		return 2;
	if (r < 0) {
		fprintf(stderr, "driver %s: %s\n", argv[1], afile_strerror(r));
		return 1;
	}
	return 0;
}
