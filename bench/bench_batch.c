/* SPDX-License-Identifier: MIT */
/*
 * bench_batch.c - making many small files durable at once.
 *
 * Part 1, the library's batches against their peers.  N files (1000) of
 * 4 KiB are made durable by:
 *   separate  N afile_write() calls, AFILE_SYNC_FULL (two syncs each);
 *   many      one afile_write_many() of N items;
 *   txn       one transaction: afile_txn_begin(), N afile_txn_put(),
 *             afile_txn_commit(), afile_txn_free();
 *   floor     not the library and not atomic: the least any shadow-file
 *             batch costs.  Per file a named temp created (O_EXCL),
 *             written, closed and renamed over its target; then one
 *             syncfs() and one fsync() of the directory.  No intent log,
 *             no journal, no metadata kept: what "txn" and "many" pay
 *             beyond it is the price of their atomicity and guarantees;
 *             what SQLite beats it by is the price of one file per row;
 *   sqlite    one SQLite transaction (journal_mode=WAL, synchronous=FULL)
 *             of N INSERT OR REPLACE of 4 KiB blobs, with SQLite's default
 *             WAL auto-checkpoint, which fires inside the COMMIT here;
 *   sqlite-nockpt  the same with the auto-checkpoint off and the
 *             checkpoint run after the clock stops: the least a SQLite
 *             commit of these rows can cost.
 * DESIGN.md section 7 asks "many" and "txn" to be at least 10x faster than
 * "separate" and within 3x of one SQLite transaction.
 *
 * Part 2, the measurement behind the library's choice of syncfs.  The
 * benchmark itself (plain system calls, not the library) writes N temps
 * of 4 KiB (O_TMPFILE, as the library's writers use, or named with
 * --temps=named) and then, on the clock, makes them durable by:
 *   fsync-each   fsync() of each temp in turn;
 *   threads-T    the same fsync() calls spread over T threads;
 *   syncfs       one syncfs() on their directory;
 *   uring        one IORING_OP_FSYNC per temp, all submitted to one
 *                io_uring (when built with liburing).
 * syncfs flushes everything dirty on the file system, not only the
 * temps; with --dirty-mb=M every method runs a second time ("+dirty")
 * with M MiB of unrelated, unsynced data written just before, so that the
 * price of that shows.
 *
 * With --neighbour-mb=M, a busy neighbour shares the file system for
 * the whole run: a child process rewrites an M MiB file in the work
 * directory over and over, 1 MiB at a time, never syncing (issue 9's
 * second case: a program writing gigabytes beside the batch).  The
 * measurement starts after its first whole pass.
 *
 * Method: every variant runs once unmeasured (creating the targets, so
 * that every measured batch replaces existing files, and growing the
 * database to its steady size), then ROUNDS measured rounds; in each
 * round every variant runs once, in an order that rotates from round to
 * round and is reversed every other round, so that machine noise falls
 * on all alike and no variant always follows the same one.  Before each
 * variant the file system is settled with an unmeasured syncfs(), so
 * that no write-back left by the previous variant lands in the next.
 * Each variant is timed with CLOCK_MONOTONIC; the median over the rounds
 * is reported.  The library's sync counters (afile_stats_get) are read
 * around each library variant.
 *
 * Nothing here asserts a time: the program reports, run.sh compares.
 */
#include <atomicfile.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif
#ifdef BENCH_HAVE_LIBURING
#include <liburing.h>
#endif

#define BENCH_TMPFS_MAGIC 0x01021994L
#define MAX_THREAD_COUNTS 8
#define MAX_VARIANTS      (8 + 2 * (3 + MAX_THREAD_COUNTS))
#define NAME_LEN          32

struct config {
	unsigned long files;
	unsigned long rounds;
	size_t size;
	unsigned long dirty_mb;
	unsigned long neighbour_mb;
	unsigned int threads[MAX_THREAD_COUNTS];
	size_t nthreads;
	bool named_temps;
	const char *dir;
	const char *kv_path;
	const char *only; /* comma-separated keys to run, or NULL: all */
	FILE *kv; /* opened before the work starts, so a relative name works */
};

struct ctx;

struct variant {
	const char *name; /* as printed */
	const char *key;  /* in the --kv file */
	int (*run)(struct ctx *c, struct variant *v, uint64_t *ret_ns);
	unsigned int threads; /* threads-T */
	int method;           /* part 2: enum method */
	bool dirty;           /* part 2: with unrelated dirty data */
	bool lib;             /* counts the library's syncs */
	const char *skip;     /* why it cannot run, or NULL */
	uint64_t *ns;         /* per measured round */
	uint64_t *stage_ns;   /* part 2: creating and writing the temps (off
			       * the clock, but not free), per round */
	uint64_t last_stage;  /* part 2: staging time of the last run */
	uint64_t syncs;       /* library file syncs, measured rounds */
	uint64_t dir_syncs;   /* library directory syncs, measured rounds */
};

enum method {
	M_FSYNC_EACH = 1,
	M_THREADS,
	M_SYNCFS,
	M_URING,
};

struct ctx {
	const struct config *cfg;
	int wfd;     /* the work directory */
	int sepfd;   /* "separate" targets */
	int manyfd;  /* "many" targets */
	int stagefd; /* part 2 temps */
	int floorfd; /* "floor" targets */
	char (*names)[NAME_LEN];
	struct afile_item *items;
	unsigned char *buf;
	unsigned char *dirty_buf;
	int *fds; /* part 2: the staged temps */
	unsigned long seq;
#ifdef BENCH_HAVE_SQLITE
	sqlite3 *db[2];          /* default, no auto-checkpoint */
	sqlite3_stmt *insert[2]; /* INSERT OR REPLACE, prepared once */
#endif
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A new version for every batch: the first bytes carry a counter. */
static void
next_contents(struct ctx *c)
{
	c->seq++;
	if (c->cfg->size >= sizeof(c->seq))
		memcpy(c->buf, &c->seq, sizeof(c->seq));
}

/* ------------------------------------------------------------------
 * Part 1: the library and SQLite
 * ------------------------------------------------------------------ */

static int
run_separate(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	uint64_t t0, t1;
	int r = 0;

	(void)v;
	next_contents(c);
	t0 = now_ns();
	for (unsigned long i = 0; i < c->cfg->files && r == 0; i++)
		r = afile_write(
		    c->sepfd, c->names[i], c->buf, c->cfg->size, 0, NULL);
	t1 = now_ns();
	*ret_ns = t1 - t0;
	return r;
}

static int
run_many(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	uint64_t t0, t1;
	int r;

	(void)v;
	next_contents(c);
	t0 = now_ns();
	r = afile_write_many(c->manyfd, c->items, c->cfg->files, 0, NULL);
	t1 = now_ns();
	*ret_ns = t1 - t0;
	return r;
}

static int
run_txn(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	struct afile_txn *txn = NULL;
	uint64_t t0, t1;
	int r;

	(void)v;
	next_contents(c);
	t0 = now_ns();
	r = afile_txn_begin(c->wfd, "txn", 0, NULL, &txn);
	for (unsigned long i = 0; i < c->cfg->files && r == 0; i++)
		r = afile_txn_put(txn, c->names[i], c->buf, c->cfg->size, 0);
	if (r == 0)
		r = afile_txn_commit(txn);
	afile_txn_free(txn);
	t1 = now_ns();
	*ret_ns = t1 - t0;
	return r;
}

/*
 * The floor: temp, write, close, rename over the target, per file; then
 * one syncfs and one directory fsync (see the header).  Nothing here
 * survives a crash atomically; it is the yardstick, not a protocol.
 */
static int
run_floor(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	char tmp[NAME_LEN + 8];
	uint64_t t0, t1;
	int fd, r = 0;

	(void)v;
	next_contents(c);
	t0 = now_ns();
	for (unsigned long i = 0; i < c->cfg->files && r == 0; i++) {
		snprintf(tmp, sizeof(tmp), ".%s.tmp", c->names[i]);
		fd = openat(c->floorfd, tmp,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = -errno;
			break;
		}
		r = write_all(fd, c->buf, c->cfg->size);
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 &&
		    renameat(c->floorfd, tmp, c->floorfd, c->names[i]) < 0)
			r = -errno;
		if (r < 0)
			(void)unlinkat(c->floorfd, tmp, 0);
	}
	if (r == 0 && syncfs(c->floorfd) < 0)
		r = -errno;
	if (r == 0 && fsync(c->floorfd) < 0)
		r = -errno;
	t1 = now_ns();
	*ret_ns = t1 - t0;
	return r;
}

#ifdef BENCH_HAVE_SQLITE
static int
sql_fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench_batch: sqlite: %s: %s\n", what,
	    db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return -EIO;
}

static int
sql_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
	    ? 0
	    : sql_fail(db, sql);
}

/*
 * Opens database @path in WAL mode with synchronous=FULL, the table, and
 * the insert statement.  @nockpt turns the WAL auto-checkpoint off.
 */
static int
sql_open(struct ctx *c, size_t k, const char *path, bool nockpt)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	bool wal;

	if (sqlite3_open_v2(path, &db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
		NULL) != SQLITE_OK) {
		int r = sql_fail(db, path);

		sqlite3_close(db);
		return r;
	}
	c->db[k] = db;
	/* The pragma answers with the mode it set: make sure it is WAL. */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) !=
	    SQLITE_OK)
		return sql_fail(db, "PRAGMA journal_mode");
	wal = sqlite3_step(st) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		fprintf(stderr, "bench_batch: sqlite: %s: no WAL mode\n", path);
		return -EIO;
	}
	if (sql_exec(db, "PRAGMA synchronous=FULL") < 0 ||
	    (nockpt && sql_exec(db, "PRAGMA wal_autocheckpoint=0") < 0) ||
	    sql_exec(db,
		"CREATE TABLE IF NOT EXISTS kv("
		"key TEXT PRIMARY KEY, value BLOB)") < 0)
		return -EIO;
	if (sqlite3_prepare_v2(db,
		"INSERT OR REPLACE INTO kv(key, value) VALUES(?1, ?2)", -1,
		&c->insert[k], NULL) != SQLITE_OK)
		return sql_fail(db, "prepare INSERT");
	return 0;
}

static void
sql_close(struct ctx *c)
{
	for (size_t k = 0; k < 2; k++) {
		sqlite3_finalize(c->insert[k]);
		sqlite3_close(c->db[k]);
		c->insert[k] = NULL;
		c->db[k] = NULL;
	}
}

/*
 * One transaction of N rows; the same keys every round, so the database
 * keeps its size.  The second database checkpoints after the clock stops.
 */
static int
run_sqlite(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	size_t k = strcmp(v->key, "sqlite") == 0 ? 0 : 1;
	sqlite3_stmt *st = c->insert[k];
	sqlite3 *db = c->db[k];
	uint64_t t0, t1;
	int r;

	next_contents(c);
	t0 = now_ns();
	r = sql_exec(db, "BEGIN");
	for (unsigned long i = 0; i < c->cfg->files && r == 0; i++) {
		if (sqlite3_bind_text(st, 1, c->names[i], -1, SQLITE_STATIC) !=
			SQLITE_OK ||
		    sqlite3_bind_blob(st, 2, c->buf, (int)c->cfg->size,
			SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE)
			r = sql_fail(db, "INSERT OR REPLACE");
		sqlite3_reset(st);
	}
	if (r == 0)
		r = sql_exec(db, "COMMIT");
	t1 = now_ns();
	*ret_ns = t1 - t0;
	if (r < 0)
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	else if (k == 1)
		r = sql_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	return r;
}
#endif

/* ------------------------------------------------------------------
 * Part 2: ways of making staged temps durable
 * ------------------------------------------------------------------ */

struct fsync_job {
	const int *fds;
	size_t n;
	size_t start;
	size_t step;
	int err;
	pthread_t tid;
};

static void *
fsync_worker(void *arg)
{
	struct fsync_job *j = arg;

	for (size_t i = j->start; i < j->n; i += j->step) {
		if (fsync(j->fds[i]) < 0) {
			j->err = -errno;
			break;
		}
	}
	return NULL;
}

/* fsync() of every temp, spread over @nthreads threads (1: this one). */
static int
sync_threads(const int *fds, size_t n, unsigned int nthreads)
{
	struct fsync_job jobs[64];
	size_t started = 0;
	int r = 0;

	if (nthreads <= 1) {
		struct fsync_job j = {.fds = fds, .n = n, .step = 1};

		(void)fsync_worker(&j);
		return j.err;
	}
	for (size_t t = 0; t < nthreads; t++) {
		jobs[t] = (struct fsync_job){
		    .fds = fds, .n = n, .start = t, .step = nthreads};
		r = -pthread_create(&jobs[t].tid, NULL, fsync_worker, &jobs[t]);
		if (r < 0)
			break;
		started++;
	}
	for (size_t t = 0; t < started; t++) {
		(void)pthread_join(jobs[t].tid, NULL);
		if (r == 0)
			r = jobs[t].err;
	}
	return r;
}

#ifdef BENCH_HAVE_LIBURING
/*
 * One IORING_OP_FSYNC per temp, as many in flight as the ring holds.  The
 * ring is set up and torn down on the clock, as a library would have to
 * unless it kept one.
 */
static int
sync_uring(const int *fds, size_t n)
{
	struct io_uring ring;
	unsigned int entries = n < 4096 ? (unsigned int)n : 4096;
	size_t submitted = 0, done = 0;
	int r, err = 0;

	if (n == 0)
		return 0;
	r = io_uring_queue_init(entries, &ring, 0);
	if (r < 0)
		return r;
	while (done < n && err == 0) {
		struct io_uring_cqe *cqe;

		while (submitted < n) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			if (sqe == NULL)
				break;
			io_uring_prep_fsync(sqe, fds[submitted], 0);
			submitted++;
		}
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR) {
			err = r;
			break;
		}
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res < 0 && err == 0)
				err = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			done++;
		}
	}
	io_uring_queue_exit(&ring);
	return err;
}

/* Whether io_uring can be used here at all (it may be disabled). */
static const char *
uring_check(void)
{
	static char why[128];
	struct io_uring ring;
	int r = io_uring_queue_init(8, &ring, 0);

	if (r == 0) {
		io_uring_queue_exit(&ring);
		return NULL;
	}
	snprintf(why, sizeof(why), "io_uring_queue_init: %s", strerror(-r));
	return why;
}
#endif

/* Opens and writes the @i-th temp; returns its descriptor or -errno. */
static int
stage_one(struct ctx *c, unsigned long i)
{
	char name[NAME_LEN];
	int fd, r;

	if (c->cfg->named_temps) {
		snprintf(name, sizeof(name), ".stage-%06lu.tmp", i);
		fd = openat(c->stagefd, name,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	} else {
		fd = openat(
		    c->stagefd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return -errno;
	r = write_all(fd, c->buf, c->cfg->size);
	if (r < 0) {
		(void)close(fd);
		return r;
	}
	return fd;
}

/* Closes the staged temps and removes their names, if they have any. */
static void
unstage(struct ctx *c)
{
	char name[NAME_LEN];

	for (unsigned long i = 0; i < c->cfg->files; i++) {
		if (c->fds[i] < 0)
			continue;
		(void)close(c->fds[i]);
		c->fds[i] = -1;
		if (c->cfg->named_temps) {
			snprintf(name, sizeof(name), ".stage-%06lu.tmp", i);
			(void)unlinkat(c->stagefd, name, 0);
		}
	}
}

/*
 * Unrelated dirty data: a program elsewhere on the file system that has
 * just written a new file and not synced it.  fsync() of the temps need
 * not write it; syncfs() must.
 */
static int
make_dirty(struct ctx *c)
{
	size_t chunk = 1u << 20;
	int fd, r = 0;

	fd = openat(c->wfd, "neighbour.bin",
	    O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	for (unsigned long m = 0; m < c->cfg->dirty_mb && r == 0; m++) {
		memcpy(c->dirty_buf, &m, sizeof(m));
		r = write_all(fd, c->dirty_buf, chunk);
	}
	(void)close(fd);
	return r;
}

static int
run_method(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	uint64_t t0, t1, ts = now_ns();
	int r = 0;

	next_contents(c);
	for (unsigned long i = 0; i < c->cfg->files && r == 0; i++) {
		int fd = stage_one(c, i);

		if (fd < 0)
			r = fd;
		else
			c->fds[i] = fd;
	}
	v->last_stage = now_ns() - ts;
	if (r == 0 && v->dirty)
		r = make_dirty(c);
	if (r < 0) {
		unstage(c);
		fprintf(
		    stderr, "bench_batch: staging temps: %s\n", strerror(-r));
		return r;
	}
	t0 = now_ns();
	switch (v->method) {
	case M_FSYNC_EACH:
		r = sync_threads(c->fds, c->cfg->files, 1);
		break;
	case M_THREADS:
		r = sync_threads(c->fds, c->cfg->files, v->threads);
		break;
	case M_SYNCFS:
		r = syncfs(c->stagefd) < 0 ? -errno : 0;
		break;
#ifdef BENCH_HAVE_LIBURING
	case M_URING:
		r = sync_uring(c->fds, c->cfg->files);
		break;
#endif
	default:
		r = -ENOSYS;
		break;
	}
	t1 = now_ns();
	*ret_ns = t1 - t0;
	unstage(c);
	return r;
}

/* ------------------------------------------------------------------
 * Rounds and report
 * ------------------------------------------------------------------ */

/* Runs @v once: settles the file system first, counts library syncs. */
static int
run_variant(struct ctx *c, struct variant *v, uint64_t *ret_ns)
{
	struct afile_stats s0 = {.size = sizeof(s0)};
	struct afile_stats s1 = {.size = sizeof(s1)};
	int r;

	/* No write-back from the previous variant may land in this one. */
	if (syncfs(c->wfd) < 0)
		return -errno;
	(void)afile_stats_get(&s0);
	r = v->run(c, v, ret_ns);
	(void)afile_stats_get(&s1);
	if (r < 0) {
		fprintf(stderr, "bench_batch: %s failed: %s (%s)\n", v->name,
		    afile_strerror(r), afile_err_name(r));
		return r;
	}
	if (ret_ns != NULL && v->lib) {
		v->syncs += s1.syncs - s0.syncs;
		v->dir_syncs += s1.dir_syncs - s0.dir_syncs;
	}
	return 0;
}

static int
run_rounds(struct ctx *c, struct variant *vs, size_t nv)
{
	const struct config *cfg = c->cfg;
	struct variant *act[MAX_VARIANTS];
	size_t na = 0;
	uint64_t ns;
	int r;

	for (size_t i = 0; i < nv; i++)
		if (vs[i].skip == NULL)
			act[na++] = &vs[i];
	/* Unmeasured round: creates every target, grows the database. */
	for (size_t i = 0; i < na; i++) {
		r = run_variant(c, act[i], &ns);
		if (r < 0)
			return r;
		act[i]->syncs = 0;
		act[i]->dir_syncs = 0;
	}
	for (unsigned long rd = 1; rd <= cfg->rounds; rd++) {
		fprintf(
		    stderr, "bench_batch: round %lu of %lu\n", rd, cfg->rounds);
		for (size_t i = 0; i < na; i++) {
			/* Rotate the order; reverse it every other round. */
			size_t k =
			    (rd % 2) ? (rd + i) % na : (rd + na - i) % na;
			struct variant *v = act[k];

			r = run_variant(c, v, &v->ns[rd - 1]);
			if (r < 0)
				return r;
			v->stage_ns[rd - 1] = v->last_stage;
		}
	}
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Median, minimum and maximum of @n rounds, in milliseconds. */
static void
stats_ms(
    const uint64_t *ns, unsigned long n, double *med, double *min, double *max)
{
	uint64_t s[256];

	memcpy(s, ns, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_u64);
	*med = n % 2 ? (double)s[n / 2]
		     : ((double)s[n / 2 - 1] + (double)s[n / 2]) / 2;
	*med /= 1e6;
	*min = (double)s[0] / 1e6;
	*max = (double)s[n - 1] / 1e6;
}

static const struct variant *
find(const struct variant *vs, size_t nv, const char *key)
{
	for (size_t i = 0; i < nv; i++)
		if (strcmp(vs[i].key, key) == 0)
			return vs[i].skip == NULL ? &vs[i] : NULL;
	return NULL;
}

static double
median_of(
    const struct variant *vs, size_t nv, const char *key, unsigned long rounds)
{
	const struct variant *v = find(vs, nv, key);
	double med, min, max;

	if (v == NULL)
		return -1;
	stats_ms(v->ns, rounds, &med, &min, &max);
	return med;
}

static void
print_ratio(const char *label, double a, double b)
{
	if (a > 0 && b > 0)
		printf("  %-34s %8.2f\n", label, a / b);
	else
		printf("  %-34s %8s\n", label, "n/a");
}

static void
print_group(
    const struct config *cfg, const struct variant *vs, size_t nv, bool part2)
{
	double med, min, max, smed;

	printf("  %-22s %10s %10s %10s %12s%s\n", "variant", "median ms",
	    "min ms", "max ms", part2 ? "syncs" : "lib syncs",
	    part2 ? "   stage ms" : "");
	for (size_t i = 0; i < nv; i++) {
		const struct variant *v = &vs[i];

		if ((v->method != 0) != part2)
			continue;
		if (v->skip != NULL) {
			printf("  %-22s SKIPPED: %s\n", v->name, v->skip);
			continue;
		}
		stats_ms(v->ns, cfg->rounds, &med, &min, &max);
		printf("  %-22s %10.2f %10.2f %10.2f ", v->name, med, min, max);
		if (v->lib)
			printf("%12.1f\n",
			    (double)(v->syncs + v->dir_syncs) /
				(double)cfg->rounds);
		else if (v->run == run_floor)
			printf("%12s\n", "2");
		else if (v->method == M_SYNCFS)
			printf("%12s", "1 syncfs");
		else if (v->method != 0)
			printf("%12lu", cfg->files);
		else
			printf("%12s\n", "-");
		if (v->method != 0) {
			stats_ms(v->stage_ns, cfg->rounds, &smed, &min, &max);
			printf(" %10.2f\n", smed);
		}
	}
}

static void
report(const struct config *cfg, const struct variant *vs, size_t nv)
{
	double sep = median_of(vs, nv, "separate", cfg->rounds);
	double many = median_of(vs, nv, "many", cfg->rounds);
	double txn = median_of(vs, nv, "txn", cfg->rounds);
	double sql = median_of(vs, nv, "sqlite", cfg->rounds);
	double nock = median_of(vs, nv, "sqlite_nockpt", cfg->rounds);
	double floor_ms = median_of(vs, nv, "floor", cfg->rounds);
	double best = -1;
	const char *best_name = NULL;
	double med, min, max;
	FILE *kv = cfg->kv;

	printf("batch: %lu files of %zu bytes made durable; %lu measured "
	       "rounds after one unmeasured, median per variant\n",
	    cfg->files, cfg->size, cfg->rounds);
	printf("\n1. the library's batches against separate calls and "
	       "SQLite\n");
	print_group(cfg, vs, nv, false);
	printf("  (lib syncs: file + directory syncs per batch, from "
	       "afile_stats_get; floor: its syncfs and directory fsync)\n");
	printf("  ratios of medians:\n");
	print_ratio("separate / many   (target >= 10)", sep, many);
	print_ratio("separate / txn    (target >= 10)", sep, txn);
	print_ratio("many / sqlite     (target <= 3)", many, sql);
	print_ratio("txn / sqlite      (target <= 3)", txn, sql);
	print_ratio("many / sqlite-nockpt", many, nock);
	print_ratio("txn / sqlite-nockpt", txn, nock);
	print_ratio("txn / floor", txn, floor_ms);
	print_ratio("many / floor", many, floor_ms);
	print_ratio("floor / sqlite", floor_ms, sql);

	printf("\n2. making %lu staged temps (%s) of %zu bytes durable\n",
	    cfg->files, cfg->named_temps ? "named" : "O_TMPFILE", cfg->size);
	print_group(cfg, vs, nv, true);
	printf("  (stage ms: creating and writing the temps, off the clock; "
	       "median)\n");
	for (size_t i = 0; i < nv; i++) {
		if (vs[i].method == 0 || vs[i].dirty || vs[i].skip != NULL)
			continue;
		stats_ms(vs[i].ns, cfg->rounds, &med, &min, &max);
		if (best < 0 || med < best) {
			best = med;
			best_name = vs[i].name;
		}
	}
	if (best_name != NULL)
		printf("  fastest without unrelated dirty data: %s, %.2f ms "
		       "median\n",
		    best_name, best);

	printf("\nper round, ms (the measured rounds in run order "
	       "differ; see the header comment)\n");
	printf("  %-22s", "variant");
	for (unsigned long r = 0; r < cfg->rounds; r++)
		printf(" %8lu", r + 1);
	printf("\n");
	for (size_t i = 0; i < nv; i++) {
		if (vs[i].skip != NULL)
			continue;
		printf("  %-22s", vs[i].name);
		for (unsigned long r = 0; r < cfg->rounds; r++)
			printf(" %8.2f", (double)vs[i].ns[r] / 1e6);
		printf("\n");
	}

	if (kv == NULL)
		return;
	fprintf(kv, "batch.files %lu\n", cfg->files);
	fprintf(kv, "batch.size %zu\n", cfg->size);
	fprintf(kv, "batch.rounds %lu\n", cfg->rounds);
	for (size_t i = 0; i < nv; i++) {
		const struct variant *v = &vs[i];

		if (v->skip != NULL)
			continue;
		stats_ms(v->ns, cfg->rounds, &med, &min, &max);
		fprintf(kv, "batch.%s.median_ms %.3f\n", v->key, med);
		fprintf(kv, "batch.%s.min_ms %.3f\n", v->key, min);
		if (v->method != 0) {
			stats_ms(v->stage_ns, cfg->rounds, &med, &min, &max);
			fprintf(kv, "batch.%s.stage_ms %.3f\n", v->key, med);
		}
		if (v->lib)
			fprintf(kv, "batch.%s.syncs_per_batch %.1f\n", v->key,
			    (double)(v->syncs + v->dir_syncs) /
				(double)cfg->rounds);
	}
}

/* ------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------ */

static void
usage(FILE *f)
{
	fputs("usage: bench_batch [--files=N] [--rounds=N] [--size=BYTES]\n"
	      "                   [--threads=T,T,...] [--temps=tmpfile|named]\n"
	      "                   [--dirty-mb=M] [--neighbour-mb=M]\n"
	      "                   [--dir=DIR] [--kv=FILE] [--only=KEY,...]\n"
	      "\n"
	      "Makes N files (1000) of SIZE bytes (4096) durable with N\n"
	      "afile_write() calls, one afile_write_many(), one transaction\n"
	      "and one SQLite transaction; then times ways of making N\n"
	      "staged temps durable: fsync each, fsync from T threads\n"
	      "(2,4,8,16), one syncfs, io_uring.  ROUNDS (5) measured rounds,\n"
	      "median reported.  --dirty-mb=M reruns the second part with M\n"
	      "MiB of unrelated unsynced data present.  --neighbour-mb=M\n"
	      "runs everything while another process keeps rewriting an\n"
	      "M MiB file there without syncing.  Works in a fresh\n"
	      "directory under DIR (default: the current one), removed at\n"
	      "the end.  --only=KEY,... runs only the variants with those\n"
	      "keys (as in the --kv file: separate, many, txn, floor,\n"
	      "sqlite, sqlite_nockpt, fsync_each, threads_T, syncfs,\n"
	      "uring).  floor: temp + write + rename per file, then one\n"
	      "syncfs and one directory fsync (not atomic; the yardstick).\n",
	    f);
}

static int
parse_ulong(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
parse_threads(const char *s, struct config *cfg)
{
	char copy[128];
	char *save = NULL;
	unsigned long v;

	if (strlen(s) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, s);
	cfg->nthreads = 0;
	for (char *t = strtok_r(copy, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		if (parse_ulong(t, &v) < 0 || v < 2 || v > 64 ||
		    cfg->nthreads == MAX_THREAD_COUNTS)
			return -EINVAL;
		cfg->threads[cfg->nthreads++] = (unsigned int)v;
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct config *cfg)
{
	static const struct option longopts[] = {
	    {"files", required_argument, NULL, 'n'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"size", required_argument, NULL, 's'},
	    {"threads", required_argument, NULL, 't'},
	    {"temps", required_argument, NULL, 'T'},
	    {"dirty-mb", required_argument, NULL, 'D'},
	    {"neighbour-mb", required_argument, NULL, 'N'},
	    {"dir", required_argument, NULL, 'd'},
	    {"kv", required_argument, NULL, 'k'},
	    {"only", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "n:r:s:t:T:D:N:d:k:o:h", longopts,
		    NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_ulong(optarg, &cfg->files) < 0 ||
			    cfg->files == 0 || cfg->files > 1000000)
				goto bad;
			break;
		case 'r':
			if (parse_ulong(optarg, &cfg->rounds) < 0 ||
			    cfg->rounds == 0 || cfg->rounds > 256)
				goto bad;
			break;
		case 's':
			if (parse_ulong(optarg, &v) < 0 || v == 0 ||
			    v > INT_MAX)
				goto bad;
			cfg->size = (size_t)v;
			break;
		case 't':
			if (parse_threads(optarg, cfg) < 0)
				goto bad;
			break;
		case 'T':
			if (strcmp(optarg, "tmpfile") == 0)
				cfg->named_temps = false;
			else if (strcmp(optarg, "named") == 0)
				cfg->named_temps = true;
			else
				goto bad;
			break;
		case 'D':
			if (parse_ulong(optarg, &cfg->dirty_mb) < 0 ||
			    cfg->dirty_mb > 65536)
				goto bad;
			break;
		case 'N':
			if (parse_ulong(optarg, &cfg->neighbour_mb) < 0 ||
			    cfg->neighbour_mb > 1048576)
				goto bad;
			break;
		case 'd':
			cfg->dir = optarg;
			break;
		case 'k':
			cfg->kv_path = optarg;
			break;
		case 'o':
			cfg->only = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	return 0;
bad:
	usage(stderr);
	return -EINVAL;
}

/* Adds the part 2 variants; @dirty marks the rerun with dirty data. */
static size_t
add_methods(struct variant *vs, size_t nv, const struct config *cfg, bool dirty,
    char (*labels)[2][NAME_LEN], const char *uring_skip)
{
	const char *sfx = dirty ? "+dirty" : "";
	const char *ksfx = dirty ? "_dirty" : "";

	snprintf(labels[nv][0], NAME_LEN, "fsync-each%s", sfx);
	snprintf(labels[nv][1], NAME_LEN, "fsync_each%s", ksfx);
	vs[nv++] = (struct variant){.method = M_FSYNC_EACH};
	for (size_t t = 0; t < cfg->nthreads; t++) {
		snprintf(labels[nv][0], NAME_LEN, "threads-%u%s",
		    cfg->threads[t], sfx);
		snprintf(labels[nv][1], NAME_LEN, "threads_%u%s",
		    cfg->threads[t], ksfx);
		vs[nv++] = (struct variant){
		    .method = M_THREADS, .threads = cfg->threads[t]};
	}
	snprintf(labels[nv][0], NAME_LEN, "syncfs%s", sfx);
	snprintf(labels[nv][1], NAME_LEN, "syncfs%s", ksfx);
	vs[nv++] = (struct variant){.method = M_SYNCFS};
	snprintf(labels[nv][0], NAME_LEN, "uring%s", sfx);
	snprintf(labels[nv][1], NAME_LEN, "uring%s", ksfx);
	vs[nv++] = (struct variant){.method = M_URING, .skip = uring_skip};
	return nv;
}

/* Is the variant @key among --only's keys (or is there no --only)? */
static bool
selected(const struct config *cfg, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = cfg->only; p != NULL && *p != '\0';) {
		const char *e = strchr(p, ',');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == kl && strncmp(p, key, l) == 0)
			return true;
		p = e != NULL ? e + 1 : p + l;
	}
	return cfg->only == NULL;
}

/* Fills @vs; returns how many. */
static size_t
make_variants(
    struct variant *vs, const struct config *cfg, char (*labels)[2][NAME_LEN])
{
	const char *uring_skip;
	size_t nv = 0, first;
#ifndef BENCH_HAVE_SQLITE
	const char *sqlite_skip =
	    "built without SQLite (libsqlite3-dev and pkg-config "
	    "sqlite3 not found at configure time)";
#endif
#ifdef BENCH_HAVE_LIBURING
	uring_skip = uring_check();
#else
	uring_skip = "built without liburing (liburing-dev and pkg-config "
		     "liburing not found at configure time)";
#endif
	vs[nv++] = (struct variant){.name = "separate",
	    .key = "separate",
	    .run = run_separate,
	    .lib = true};
	vs[nv++] = (struct variant){
	    .name = "many", .key = "many", .run = run_many, .lib = true};
	vs[nv++] = (struct variant){
	    .name = "txn", .key = "txn", .run = run_txn, .lib = true};
	vs[nv++] =
	    (struct variant){.name = "floor", .key = "floor", .run = run_floor};
#ifdef BENCH_HAVE_SQLITE
	vs[nv++] = (struct variant){
	    .name = "sqlite", .key = "sqlite", .run = run_sqlite};
	vs[nv++] = (struct variant){
	    .name = "sqlite-nockpt", .key = "sqlite_nockpt", .run = run_sqlite};
#else
	vs[nv++] = (struct variant){
	    .name = "sqlite", .key = "sqlite", .skip = sqlite_skip};
	vs[nv++] = (struct variant){.name = "sqlite-nockpt",
	    .key = "sqlite_nockpt",
	    .skip = sqlite_skip};
#endif
	first = nv;
	nv = add_methods(vs, nv, cfg, false, labels, uring_skip);
	if (cfg->dirty_mb > 0)
		nv = add_methods(vs, nv, cfg, true, labels, uring_skip);
	for (size_t i = first; i < nv; i++) {
		vs[i].name = labels[i][0];
		vs[i].key = labels[i][1];
		vs[i].run = run_method;
		vs[i].dirty = i >= first + 3 + cfg->nthreads;
	}
	for (size_t i = 0; i < nv; i++)
		if (vs[i].skip == NULL && !selected(cfg, vs[i].key))
			vs[i].skip = "not selected (--only)";
	return nv;
}

/* Warns when the directory is on tmpfs, where fsync costs nothing. */
static void
check_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) == 0 && (long)sfs.f_type == BENCH_TMPFS_MAGIC)
		fprintf(stderr,
		    "bench_batch: WARNING: the directory is on "
		    "tmpfs; syncs are free there and the numbers "
		    "say nothing about a disk\n");
}

/* The part 2 temps and write_many's groups need many descriptors. */
static int
raise_fd_limit(unsigned long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need + 64) {
		fprintf(stderr,
		    "bench_batch: %lu files need %lu descriptors; the "
		    "limit is %llu\n",
		    need, need + 64, (unsigned long long)rl.rlim_cur);
		return -EMFILE;
	}
	return 0;
}

static int
open_subdir(int wfd, const char *name)
{
	if (mkdirat(wfd, name, 0755) < 0)
		return -errno;
	return openat(wfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
setup(struct ctx *c, const char *work)
{
	const struct config *cfg = c->cfg;
	char path[PATH_MAX];

	c->wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->wfd < 0)
		return -errno;
	check_fs(c->wfd);
	c->sepfd = open_subdir(c->wfd, "separate");
	c->manyfd = open_subdir(c->wfd, "many");
	c->stagefd = open_subdir(c->wfd, "stage");
	c->floorfd = open_subdir(c->wfd, "floor");
	if (c->sepfd < 0 || c->manyfd < 0 || c->stagefd < 0 || c->floorfd < 0 ||
	    mkdirat(c->wfd, "txn", 0755) < 0)
		return -errno;
	c->names = calloc(cfg->files, sizeof(*c->names));
	c->items = calloc(cfg->files, sizeof(*c->items));
	c->fds = calloc(cfg->files, sizeof(*c->fds));
	c->buf = malloc(cfg->size);
	c->dirty_buf = malloc(1u << 20);
	if (c->names == NULL || c->items == NULL || c->fds == NULL ||
	    c->buf == NULL || c->dirty_buf == NULL)
		return -ENOMEM;
	memset(c->buf, 'x', cfg->size);
	/* Not compressible, in case the file system compresses. */
	for (size_t i = 0; i < (1u << 20); i++)
		c->dirty_buf[i] = (unsigned char)((i * 2654435761u) >> 13);
	for (unsigned long i = 0; i < cfg->files; i++) {
		snprintf(c->names[i], NAME_LEN, "file-%06lu", i);
		c->items[i] = (struct afile_item){
		    .path = c->names[i], .buf = c->buf, .len = cfg->size};
		c->fds[i] = -1;
	}
	if (!cfg->named_temps) {
		int fd = openat(
		    c->stagefd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);

		if (fd < 0) {
			fprintf(stderr,
			    "bench_batch: O_TMPFILE: %s; use "
			    "--temps=named\n",
			    strerror(errno));
			return -errno;
		}
		(void)close(fd);
	}
#ifdef BENCH_HAVE_SQLITE
	snprintf(path, sizeof(path), "%s/batch.db", work);
	if (sql_open(c, 0, path, false) < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/batch-nockpt.db", work);
	if (sql_open(c, 1, path, true) < 0)
		return -EIO;
#else
	(void)path;
#endif
	return 0;
}

/*
 * The busy neighbour: a child rewriting an @mb MiB file in @work, 1 MiB
 * per write, forever, never syncing.  Returns its pid once its first
 * pass is written (so the file exists at full size), or -1.
 */
static pid_t
start_neighbour(const char *work, unsigned long mb, const unsigned char *buf)
{
	char path[PATH_MAX];
	int p[2];
	pid_t pid;
	char c;

	snprintf(path, sizeof(path), "%s/neighbour", work);
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		close(p[0]);
		for (unsigned long pass = 0; fd >= 0; pass++) {
			for (unsigned long m = 0; m < mb; m++)
				if (pwrite(fd, buf, 1u << 20, (off_t)m << 20) <
				    0)
					_exit(1);
			if (pass == 0 &&
			    (write(p[1], "", 1) < 0 || close(p[1]) < 0))
				_exit(1);
		}
		_exit(1);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	return pid;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		fprintf(stderr, "bench_batch: remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

static void
teardown(struct ctx *c)
{
	if (c->fds != NULL)
		unstage(c);
#ifdef BENCH_HAVE_SQLITE
	sql_close(c);
#endif
	if (c->sepfd >= 0)
		(void)close(c->sepfd);
	if (c->manyfd >= 0)
		(void)close(c->manyfd);
	if (c->stagefd >= 0)
		(void)close(c->stagefd);
	if (c->floorfd >= 0)
		(void)close(c->floorfd);
	if (c->wfd >= 0)
		(void)close(c->wfd);
	free(c->names);
	free(c->items);
	free(c->fds);
	free(c->buf);
	free(c->dirty_buf);
}

int
main(int argc, char **argv)
{
	static const unsigned int default_threads[] = {2, 4, 8, 16};
	struct config cfg = {.files = 1000, .rounds = 5, .size = 4096};
	struct ctx c = {.cfg = &cfg,
	    .wfd = -1,
	    .sepfd = -1,
	    .manyfd = -1,
	    .stagefd = -1,
	    .floorfd = -1};
	struct variant vs[MAX_VARIANTS] = {0};
	char labels[MAX_VARIANTS][2][NAME_LEN];
	char work[PATH_MAX] = "";
	size_t nv;
	pid_t neighbour = 0;
	int r, status = 1;
	int n;

	for (size_t i = 0; i < 4; i++)
		cfg.threads[i] = default_threads[i];
	cfg.nthreads = 4;
	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	if (raise_fd_limit(cfg.files) < 0)
		return 1;
	if (cfg.kv_path != NULL) {
		cfg.kv = fopen(cfg.kv_path, "we");
		if (cfg.kv == NULL) {
			fprintf(stderr, "bench_batch: %s: %s\n", cfg.kv_path,
			    strerror(errno));
			return 1;
		}
	}
	/* Under DIR or the current directory: /tmp may be tmpfs. */
	n = snprintf(work, sizeof(work), "%s/bench-batch.XXXXXX",
	    cfg.dir != NULL ? cfg.dir : ".");
	if (n < 0 || (size_t)n >= sizeof(work) || mkdtemp(work) == NULL) {
		fprintf(stderr, "bench_batch: cannot create %s: %s\n", work,
		    strerror(errno));
		work[0] = '\0';
		goto out;
	}
	nv = make_variants(vs, &cfg, labels);
	for (size_t i = 0; i < nv; i++) {
		vs[i].ns = calloc(cfg.rounds, sizeof(*vs[i].ns));
		vs[i].stage_ns = calloc(cfg.rounds, sizeof(*vs[i].stage_ns));
		if (vs[i].ns == NULL || vs[i].stage_ns == NULL) {
			fputs("bench_batch: out of memory\n", stderr);
			goto out;
		}
	}
	r = setup(&c, work);
	if (r < 0) {
		fprintf(stderr, "bench_batch: set-up in %s: %s\n", work,
		    strerror(-r));
		goto out;
	}
	if (cfg.neighbour_mb > 0) {
		neighbour =
		    start_neighbour(work, cfg.neighbour_mb, c.dirty_buf);
		if (neighbour < 0) {
			fputs("bench_batch: the neighbour did not start\n",
			    stderr);
			goto out;
		}
		if (cfg.kv != NULL)
			fprintf(cfg.kv, "batch.neighbour_mb %lu\n",
			    cfg.neighbour_mb);
	}
	r = run_rounds(&c, vs, nv);
	if (neighbour > 0) {
		kill(neighbour, SIGKILL);
		waitpid(neighbour, NULL, 0);
	}
	if (r == 0) {
		report(&cfg, vs, nv);
		status = 0;
	}
out:
	teardown(&c);
	if (work[0] != '\0' &&
	    nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "bench_batch: removing %s: %s\n", work,
		    strerror(errno));
	for (size_t i = 0; i < MAX_VARIANTS; i++) {
		free(vs[i].ns);
		free(vs[i].stage_ns);
	}
	if (cfg.kv != NULL && fclose(cfg.kv) != 0) {
		fprintf(stderr, "bench_batch: %s: %s\n", cfg.kv_path,
		    strerror(errno));
		status = 1;
	}
	return status;
}
