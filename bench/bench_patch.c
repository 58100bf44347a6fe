/* SPDX-License-Identifier: MIT */
/*
 * bench_patch.c - W5: a 4 KiB durable patch in the middle of a large file.
 *
 * Variants, interleaved round by round so that they share the machine's
 * noise:
 *   inplace  afile_patch(AFILE_INPLACE): a record appended to the redo
 *            log, one sync, the bytes written in place unsynced (plus
 *            one sync of the file per checkpoint, every 1 MiB of log);
 *   patcher  the same protocol through afile_patcher_patchv(), whose
 *            descriptors stay open between patches, as SQLite's
 *            connection does (the one-shot call opens and closes the
 *            directory, the sidecar, the file and the log each time);
 *   copy     afile_patch() default: a patched copy published atomically
 *            (the whole file is copied where extents cannot be shared);
 *   sqlite   UPDATE of a 4 KiB blob in a table (WAL, synchronous=FULL),
 *            the peer of the table, when built with libsqlite3.
 * Prints medians and writes "patch.VARIANT.median_us", ".syncs_per_op"
 * to --kv.  The copy variant is slow on a file system without reflinks
 * (it copies --size-mb): --copy-rounds bounds it.
 */
#include <atomicfile.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median_us(uint64_t *v, unsigned int n)
{
	if (!n)
		return -1;
	qsort(v, n, sizeof(*v), cmp_u64);
	return (n % 2 ? (double)v[n / 2]
		      : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0) /
	    1e3;
}

static uint64_t
lib_syncs(void)
{
	struct afile_stats st = {.size = sizeof(st)};

	(void)afile_stats_get(&st);
	return st.syncs + st.dir_syncs;
}

/* A file of @mb MiB of non-zero data (no holes: the copy must copy it).
 */
static int
make_file(const char *path, unsigned long mb)
{
	static unsigned char chunk[1 << 20];
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (unsigned char)(i * 7 + 1);
	for (unsigned long i = 0; i < mb; i++)
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
			close(fd);
			return -EIO;
		}
	if (fsync(fd) < 0 || close(fd) < 0)
		return -errno;
	return 0;
}

#ifdef BENCH_HAVE_SQLITE
static sqlite3 *db;
static sqlite3_stmt *upd;

static int
sqlite_open(const char *path)
{
	static unsigned char blob[4096];
	sqlite3_stmt *ins;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
		"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		"CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, "
		"b "
		"BLOB);",
		NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t VALUES (?, ?)", -1,
		&ins, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < 256; i++) {
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_blob(ins, 2, blob, sizeof(blob), SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return -1;
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	return sqlite3_prepare_v2(db, "UPDATE t SET b = ? WHERE id = 128", -1,
		   &upd, NULL) == SQLITE_OK
	    ? 0
	    : -1;
}

static int
sqlite_update(const unsigned char *buf, size_t len)
{
	int r;

	sqlite3_bind_blob(upd, 1, buf, (int)len, SQLITE_STATIC);
	r = sqlite3_step(upd);
	sqlite3_reset(upd);
	return r == SQLITE_DONE ? 0 : -EIO;
}
#endif

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"size-mb", required_argument, NULL, 's'},
	    {"rounds", required_argument, NULL, 'n'},
	    {"copy-rounds", required_argument, NULL, 'c'},
	    {"only", required_argument, NULL, 'o'},
	    {"kv", required_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = ".", *kvp = NULL, *only = NULL;
	unsigned long mb = 1024, rounds = 20, copy_rounds = 3;
	static unsigned char buf[4096];
	enum { NV = 4 };
	uint64_t *t[NV], s0, syncs[NV] = {0};
	unsigned int n[NV] = {0};
	const char *names[NV] = {"inplace", "copy", "sqlite", "patcher"};
	struct afile_patcher *pt = NULL;
	int c, r;
	uint64_t off;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			mb = strtoul(optarg, NULL, 10);
			break;
		case 'n':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			copy_rounds = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			only = optarg;
			break;
		case 'k':
			kvp = optarg;
			break;
		default:
			fprintf(stderr,
			    "usage: bench_patch [--dir=D] "
			    "[--size-mb=N] "
			    "[--rounds=N] [--copy-rounds=N] "
			    "[--only=inplace|copy|sqlite|patcher] "
			    "[--kv=FILE]\n");
			return 2;
		}
	}
	if (!mb || !rounds || chdir(dir) < 0) {
		perror("bench_patch: arguments or --dir");
		return 2;
	}
	off = (uint64_t)mb * 1048576 / 2;
	if ((!only || strcmp(only, "sqlite")) &&
	    (r = make_file("big", mb)) < 0) {
		fprintf(stderr, "bench_patch: create: %s\n", afile_strerror(r));
		return 1;
	}
	if ((!only || !strcmp(only, "patcher")) &&
	    (r = afile_patcher_open(AT_FDCWD, "big", 0, NULL, &pt)) < 0) {
		fprintf(
		    stderr, "bench_patch: patcher: %s\n", afile_strerror(r));
		return 1;
	}
#ifdef BENCH_HAVE_SQLITE
	if ((!only || !strcmp(only, "sqlite")) && sqlite_open("w5.db") < 0) {
		fprintf(stderr, "bench_patch: sqlite: %s\n",
		    db ? sqlite3_errmsg(db) : "open");
		return 1;
	}
#endif
	for (int v = 0; v < NV; v++)
		t[v] = calloc(rounds + 1, sizeof(uint64_t));
	/* Round 0 warms up (creates the redo log, the WAL). */
	for (unsigned long i = 0; i <= rounds; i++) {
		for (int k = 0; k < NV; k++) {
			int v = (int)((i + (unsigned long)k) % NV);
			uint64_t t0;

			if (only && strcmp(only, names[v]))
				continue;
			if (v == 1 && i > copy_rounds)
				continue;
#ifndef BENCH_HAVE_SQLITE
			if (v == 2)
				continue;
#endif
			memset(buf, (int)('a' + (i + (unsigned long)v) % 26),
			    sizeof(buf));
			s0 = lib_syncs();
			t0 = now_ns();
			if (v == 0)
				r = afile_patch(AT_FDCWD, "big", off, buf,
				    sizeof(buf), AFILE_INPLACE, NULL);
			else if (v == 1)
				r = afile_patch(AT_FDCWD, "big", off, buf,
				    sizeof(buf), 0, NULL);
			else if (v == 3)
				r = afile_patcher_patchv(pt,
				    &(struct afile_range){
					off, buf, sizeof(buf)},
				    1);
			else
#ifdef BENCH_HAVE_SQLITE
				r = sqlite_update(buf, sizeof(buf));
#else
				r = 0;
#endif
			if (r < 0) {
				fprintf(stderr, "bench_patch: %s: %s\n",
				    names[v], afile_strerror(r));
				return 1;
			}
			if (i == 0)
				continue;
			t[v][n[v]++] = now_ns() - t0;
			syncs[v] += lib_syncs() - s0;
		}
	}
	{
		FILE *kv = kvp ? fopen(kvp, "w") : NULL;

		printf("  4 KiB patch at %lu MiB of a %lu MiB file "
		       "(medians)\n",
		    mb / 2, mb);
		for (int v = 0; v < NV; v++) {
			double m = median_us(t[v], n[v]);

			if (!n[v]) {
				printf("  %-8s SKIPPED\n", names[v]);
				continue;
			}
			printf("  %-8s %12.1f us  (%u runs, %.2f library "
			       "syncs/op)\n",
			    names[v], m, n[v], (double)syncs[v] / n[v]);
			if (kv)
				fprintf(kv,
				    "patch.%s.median_us %.1f\n"
				    "patch.%s.syncs_per_op %.2f\n",
				    names[v], m, names[v],
				    (double)syncs[v] / n[v]);
		}
		/* In place and patcher, each over SQLite. */
		for (int v = 0; v < NV; v += 3) {
			double ratio;

			if (!n[v] || !n[2])
				continue;
			ratio = median_us(t[v], n[v]) / median_us(t[2], n[2]);
			printf("  %s/sqlite %.2fx\n", names[v], ratio);
			if (kv)
				fprintf(kv, "patch.%s_over_sqlite %.2f\n",
				    names[v], ratio);
		}
		if (kv)
			fclose(kv);
	}
#ifdef BENCH_HAVE_SQLITE
	if (db) {
		sqlite3_finalize(upd);
		sqlite3_close(db);
	}
#endif
	afile_patcher_free(pt);
	(void)unlink("big");
	return 0;
}
