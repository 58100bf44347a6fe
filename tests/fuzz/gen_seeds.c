/* SPDX-License-Identifier: MIT */
/*
 * gen_seeds.c - write the seed corpus of fuzz_journal into a directory:
 * valid journals made by the encoder (each op, none, the longest paths,
 * the example of docs/FORMAT.md) and a few damaged ones, each once
 * parsed raw (mode byte 0) and once with its CRCs fixed up (mode byte 1).
 * Generated at each run, so that no binary is committed and the seeds
 * follow the format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

static int seq;

static int
put(const char *dir, const void *buf, size_t len)
{
	unsigned char mode;
	char name[4096];
	FILE *f;

	for (mode = 0; mode < 2; mode++) {
		snprintf(name, sizeof(name), "%s/seed-%03d", dir, seq++);
		f = fopen(name, "wb");
		if (f == NULL || fwrite(&mode, 1, 1, f) != 1 ||
		    fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			perror(name);
			return -1;
		}
	}
	return 0;
}

static int
put_journal(const char *dir, uint64_t txn, const struct afile__jrec *recs,
    size_t n, int damage)
{
	void *buf;
	size_t len;
	int r;

	if (afile__journal_encode(txn, recs, n, &buf, &len) != 0)
		return -1;
	if (damage == 1)
		len -= len / 3; /* torn */
	else if (damage == 2)
		((unsigned char *)buf)[len / 2] ^= 0x10; /* flipped bit */
	r = put(dir, buf, len);
	afile__free(buf);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct afile__jrec recs[] = {
	    {AFILE__J_PUT, "conf", ".conf.a1b2c3d4e5f6.afile-tmp", 0},
	    {AFILE__J_REMOVE, "old", "", 1234},
	    {AFILE__J_CREATE, "d/new", "d/.new.Qw8e7r6t5y4u.afile-tmp", 0},
	    {AFILE__J_RENAME, "a/b", "c/d", 42},
	};
	static char longest[4096];
	struct afile__jrec lr = {AFILE__J_RENAME, longest, "x", 7};
	int damage, i;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	memset(longest, 'a', sizeof(longest) - 1);
	for (damage = 0; damage < 3; damage++) {
		if (put_journal(argv[1], 7, recs, 2, damage) < 0 ||
		    put_journal(argv[1], 1, recs, 4, damage) < 0)
			return 1;
	}
	for (i = 0; i < 4; i++) {
		if (put_journal(argv[1], (uint64_t)i, &recs[i], 1, 0) < 0)
			return 1;
	}
	if (put_journal(argv[1], 0, NULL, 0, 0) < 0 ||
	    put_journal(argv[1], 9, &lr, 1, 0) < 0 || put(argv[1], "", 0) < 0)
		return 1;
	printf("%d seeds\n", seq);
	return 0;
}
