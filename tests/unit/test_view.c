/* SPDX-License-Identifier: MIT */
/*
 * test_view.c - afile_update() against stale views of a shared file
 * system (src/view.c, issue 9).
 *
 * A client of GlusterFS or NFS may, after taking the lock, still see the
 * version another client replaced.  The tests make the library believe it
 * is on FUSE (statfs magic) and play the stale client through the syscall
 * table: opening the target by name opens (and the stat that follows
 * sees) a hard link to an older version, or fails with ESTALE or ENOENT,
 * for the first few tries.  The
 * real multi-client run is tests/gluster/gluster.sh.
 *
 * Each judgement (fresh, stale, maybe) is also reached from a record the
 * test writes into the sidecar, and the failures of the read and of the
 * publication are checked for their error and for the record they leave
 * (none written for what was not published, or not seen by name).  The
 * monotonic clock is virtual: the backoff's sleeps move it and take no
 * time, so the 5 s bound costs nothing.
 */
#include "helpers.h"

#include "internal.h"
#include "sys.h"

#define FUSE_MAGIC 0x65735546UL

static unsigned long magic = FUSE_MAGIC;
/* Opens of "f" for reading that see the stale view; -1: all of them. */
static int stale_left;
static int stale_errno; /* 0: open "old" instead; else fail with this */
static int stale_seen;
static bool stat_old; /* the next stat of "f" is of "old" too */

/* More answers of the table; reset by setup(). */
static struct {
	uint64_t slept_ns; /* the virtual clock: what afile__sleep_ns slept */
	int open_err;      /* opening "f" to read fails with this */
	bool stat_gone;    /* once "f" was opened to read: stats ENOENT */
	bool gone_now;
	int swap_stats;       /* this many reads of "f": the stat sees "old" */
	bool swap_after_sync; /* stats of "f" after a file sync see "old" */
	bool arm_fstat;       /* after opening "f" to read, its fstat fails */
	bool fstat_armed;
	int fsync_err;         /* fsync/fdatasync of a regular file */
	int dirsync_err;       /* fsync of a directory */
	int rename_err;        /* renameat2 onto "f" */
	bool fstat_after_sync; /* the writer's fstat after its sync fails */
	bool gone_after_sync;  /* stats of "f" after a file sync: ENOENT */
	bool zero_ctime;       /* stats of "f" report no ctime */
	int flip_dev;          /* this many reads of "f": another st_dev */
	bool flip_next;
	bool flip_dev_after_sync;
	const char *open_as; /* opening "f" to read opens this instead */
	bool synced;
} V;

static int
fake_fs_magic(int fd, unsigned long *ret)
{
	(void)fd;
	*ret = magic;
	return 0;
}

static int
fake_openat(int dfd, const char *path, int flags, mode_t mode)
{
	bool read_f = strcmp(path, "f") == 0 &&
	    (flags & O_ACCMODE) == O_RDONLY &&
	    !(flags & (O_CREAT | O_DIRECTORY));

	if (read_f && V.open_err) {
		errno = V.open_err;
		return -1;
	}
	if (read_f && V.flip_dev > 0) {
		V.flip_dev--;
		V.flip_next = true;
	}
	if (read_f && V.open_as)
		path = V.open_as;
	if (read_f && V.arm_fstat)
		V.fstat_armed = true;
	if (read_f && V.stat_gone)
		V.gone_now = true;
	if (read_f && V.swap_stats > 0) {
		V.swap_stats--;
		stat_old = true;
	}
	if (read_f && stale_left != 0) {
		if (stale_left > 0)
			stale_left--;
		stale_seen++;
		if (stale_errno) {
			errno = stale_errno;
			return -1;
		}
		path = "old";
		stat_old = true;
	}
	return afile__sys_default.openat(dfd, path, flags, mode);
}

static int
fake_fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	if (strcmp(path, "f") == 0 && stat_old) {
		stat_old = false;
		path = "old";
	}
	if (strcmp(path, "f") == 0 && V.gone_now) {
		errno = ENOENT;
		return -1;
	}
	if (strcmp(path, "f") == 0 && V.swap_after_sync && V.synced)
		path = "old";
	if (strcmp(path, "f") == 0 && V.gone_after_sync && V.synced) {
		errno = ENOENT;
		return -1;
	}
	if (afile__sys_default.fstatat(dfd, path, st, flags) < 0)
		return -1;
	if (strcmp(path, "f") == 0) {
		/* GlusterFS's fstat, or another device by the same name. */
		if (V.zero_ctime)
			st->st_ctim.tv_sec = st->st_ctim.tv_nsec = 0;
		if (V.flip_next || (V.flip_dev_after_sync && V.synced)) {
			V.flip_next = false;
			st->st_dev ^= 1;
		}
	}
	return 0;
}

static int
fake_fstat(int fd, struct stat *st)
{
	if (V.fstat_armed || (V.fstat_after_sync && V.synced)) {
		V.fstat_armed = V.synced = false;
		errno = EIO;
		return -1;
	}
	return afile__sys_default.fstat(fd, st);
}

static int
fail_sync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	if (S_ISDIR(st.st_mode) && V.dirsync_err) {
		errno = V.dirsync_err;
		return -1;
	}
	if (S_ISREG(st.st_mode) && V.fsync_err) {
		errno = V.fsync_err;
		return -1;
	}
	if (S_ISREG(st.st_mode))
		V.synced = true;
	return 0;
}

static int
fake_fsync(int fd)
{
	return fail_sync(fd) < 0 ? -1 : afile__sys_default.fsync(fd);
}

static int
fake_fdatasync(int fd)
{
	return fail_sync(fd) < 0 ? -1 : afile__sys_default.fdatasync(fd);
}

static int
fake_renameat(int sdfd, const char *src, int ddfd, const char *dst)
{
	if (V.rename_err && strcmp(dst, "f") == 0) {
		errno = V.rename_err;
		return -1;
	}
	return afile__sys_default.renameat(sdfd, src, ddfd, dst);
}

/* A virtual monotonic clock that only sleeps move: no test waits. */
static int
fake_clock_gettime(clockid_t clk, struct timespec *ts)
{
	int r = afile__sys_default.clock_gettime(clk, ts);

	if (r == 0 && clk == CLOCK_MONOTONIC) {
		uint64_t ns = (uint64_t)ts->tv_nsec + V.slept_ns % 1000000000u;

		ts->tv_sec +=
		    (time_t)(V.slept_ns / 1000000000u + ns / 1000000000u);
		ts->tv_nsec = (long)(ns % 1000000000u);
	}
	return r;
}

static int
fake_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)rem;
	V.slept_ns +=
	    (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec;
	return 0;
}

static int
setup(void **state)
{
	int r = h_setup(state);

	magic = FUSE_MAGIC;
	stale_left = 0;
	stale_errno = 0;
	stale_seen = 0;
	stat_old = false;
	memset(&V, 0, sizeof(V));
	afile__sys.fs_magic = fake_fs_magic;
	afile__sys.fstatat = fake_fstatat;
	afile__sys.openat = fake_openat;
	afile__sys.fstat = fake_fstat;
	afile__sys.renameat = fake_renameat;
	afile__sys.clock_gettime = fake_clock_gettime;
	afile__sys.nanosleep = fake_nanosleep;
	return r;
}

static int
teardown(void **state)
{
	afile__sys_reset();
	return h_teardown(state);
}

static int
incr(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	char buf[32];
	long n = old && old_len ? strtol(old, NULL, 10) : 0;
	int len = snprintf(buf, sizeof(buf), "%ld\n", n + 1);

	(void)ctx;
	return afile_writer_write(w, buf, (size_t)len);
}

static int
update(const struct h_ctx *c, struct afile_errinfo *err)
{
	struct afile_opts o = AFILE_OPTS_INIT;

	o.err = err;
	/* "old" keeps a version by a hard link. */
	return afile_update(c->dfd, "f", incr, NULL, AFILE_BREAK_HARDLINKS, &o);
}

/* The sidecar's record, parsed. */
static void
read_record(
    const struct h_ctx *c, struct afile__ident *prev, struct afile__ident *cur)
{
	size_t len;
	char *rec = h_slurp(c, ".f.afile-lock", &len);

	assert_int_equal(afile__view_record_parse(rec, len, prev, cur), 0);
	free(rec);
}

static void
ident_of(const struct h_ctx *c, const char *name, struct afile__ident *id)
{
	struct stat st;

	assert_int_equal(fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	afile__ident_of(&st, id);
}

static void
test_record_roundtrip(void **state)
{
	struct afile__ident a = {true, 12, 34, 1700000000, 999999999,
				1700000001, 5},
			    b = {0};
	struct afile__ident pa, pb;
	char buf[256];
	size_t n;

	(void)state;
	n = afile__view_record_format(&a, &b, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(afile__view_record_parse(buf, n, &pa, &pb), 0);
	assert_true(afile__ident_same(&a, &pa));
	assert_true(afile__ident_same(&b, &pb));
	assert_false(pb.exists);
	/* Torn (no newline), damaged (a digit changed), foreign: ignored. */
	assert_int_equal(
	    afile__view_record_parse(buf, n - 1, &pa, &pb), -EINVAL);
	buf[16] = buf[16] == '1' ? '2' : '1';
	assert_int_equal(afile__view_record_parse(buf, n, &pa, &pb), -EINVAL);
	assert_int_equal(
	    afile__view_record_parse("hello\n", 6, &pa, &pb), -EINVAL);
	/* Same only when inode, size and mtime all are (ctime orders). */
	pa = a;
	pa.ctime_s++;
	assert_true(afile__ident_same(&a, &pa));
	pa = a;
	pa.size++;
	assert_false(afile__ident_same(&a, &pa));
	pa = a;
	pa.mtime_s++;
	assert_false(afile__ident_same(&a, &pa));
	pa = a;
	pa.mtime_ns++;
	assert_false(afile__ident_same(&a, &pa));
	assert_false(afile__ident_same(&a, &b));
	/* Too small a buffer: nothing, rather than a cut record. */
	assert_int_equal(afile__view_record_format(&a, &b, buf, 20), 0);
}

/* On FUSE, each update records what it replaced and what it published. */
static void
test_update_records(void **state)
{
	struct h_ctx *c = *state;
	struct afile__ident prev, cur, v1, v2;

	assert_int_equal(update(c, NULL), 0);
	ident_of(c, "f", &v1);
	read_record(c, &prev, &cur);
	assert_false(prev.exists);
	assert_true(afile__ident_same(&cur, &v1));
	assert_int_equal(update(c, NULL), 0);
	ident_of(c, "f", &v2);
	read_record(c, &prev, &cur);
	assert_true(afile__ident_same(&prev, &v1));
	assert_true(afile__ident_same(&cur, &v2));
	/* The ctime, which orders versions, as a stat by path gives it. */
	assert_true(cur.ctime_s == v2.ctime_s && cur.ctime_ns == v2.ctime_ns);
	assert_true(cur.ctime_s != 0);
	assert_file(c, "f", "2\n");
}

/* A local file system can show no stale view: nothing recorded. */
static void
test_local_records_nothing(void **state)
{
	struct h_ctx *c = *state;
	size_t len;
	char *rec;

	magic = 0xEF53UL;
	assert_int_equal(update(c, NULL), 0);
	rec = h_slurp(c, ".f.afile-lock", &len);
	assert_int_equal(len, 0);
	free(rec);
}

/* A few stale views of the replaced version are waited out. */
static void
test_stale_view_waited_out(void **state)
{
	struct h_ctx *c = *state;
	struct afile_stats s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "2\n");
	stale_left = 3;
	assert_int_equal(afile_stats_get(&s0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(afile_stats_get(&s1), 0);
	/* Read from "2", not from the stale "1": no update lost. */
	assert_file(c, "f", "3\n");
	assert_int_equal(stale_seen, 3);
	assert_true(s1.retries - s0.retries >= 3);
}

/* A version older than the one replaced (older ctime) is stale too. */
static void
test_stale_older_version(void **state)
{
	struct h_ctx *c = *state;

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "4\n");
	assert_int_equal(stale_seen, 2);
}

/* A view that stays stale fails with ESTALE and changes nothing. */
static void
test_stale_view_persists(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	stale_left = -1;
	assert_int_equal(update(c, &err), -ESTALE);
	assert_non_null(strstr(err.step, "older than the last update"));
	assert_non_null(strstr(err.path, "f"));
	stale_left = 0;
	assert_file(c, "f", "2\n");
	assert_entries(c, ".", ".f.afile-lock", "f", "old");
}

/* ESTALE from the open is retried as a whole, on any file system. */
static void
test_estale_retried(void **state)
{
	struct h_ctx *c = *state;

	magic = 0xEF53UL;
	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	stale_errno = ESTALE;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 2);
	assert_file(c, "f", "2\n");
}

/* A name another client published, not yet seen here: waited for. */
static void
test_absent_name_waited_for(void **state)
{
	struct h_ctx *c = *state;

	assert_int_equal(update(c, NULL), 0);
	stale_left = 2;
	stale_errno = ENOENT;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 2);
	assert_file(c, "f", "2\n");
}

/* A record the file no longer matches, newer (a plain write): go on. */
static void
test_newer_unrecorded_version(void **state)
{
	struct h_ctx *c = *state;
	struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(
	    afile_write(c->dfd, "f", "41\n", 3, AFILE_LOCK, NULL), 0);
	/* An old mtime, as cp -p keeps it: the ctime says newer. */
	assert_int_equal(utimensat(c->dfd, "f", ts, 0), 0);
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(stale_seen, 0);
	assert_file(c, "f", "42\n");
}

/* ------------------------------------------------------------------
 * The record's format, and each judgement of what was read
 * ------------------------------------------------------------------ */

static uint32_t
fnv(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t k = 0; k < n; k++)
		h = (h ^ (unsigned char)s[k]) * 16777619u;
	return h;
}

/* Parse @body followed by its right checksum (and @tail). */
static int
parse_summed(const char *body, const char *tail)
{
	struct afile__ident a, b;
	char line[512];
	int n = snprintf(line, sizeof(line), "%s%08x%s\n", body,
	    (unsigned int)fnv(body, strlen(body)), tail);

	return afile__view_record_parse(line, (size_t)n, &a, &b);
}

/* Invariant 2: whatever is not a whole record of this format is none. */
static void
test_record_rejects(void **state)
{
	struct afile__ident a, b;
	char long_line[300];

	(void)state;
	assert_int_equal(parse_summed("afile-update 1 - - ", ""), 0);
	assert_int_equal(parse_summed("afile-update 1 1:2:3.4:5.6 - ", ""), 0);
	/* Longer than a record can be, before its newline. */
	memset(long_line, 'a', sizeof(long_line));
	long_line[sizeof(long_line) - 1] = '\n';
	assert_int_equal(
	    afile__view_record_parse(long_line, sizeof(long_line), &a, &b),
	    -EINVAL);
	assert_int_equal(
	    afile__view_record_parse("afile-update 1 x\n", 17, &a, &b),
	    -EINVAL);
	assert_int_equal(parse_summed("afile-update 2 - - ", ""), -EINVAL);
	/* A checksum that is no number, or is followed by more. */
	assert_int_equal(afile__view_record_parse(
			     "afile-update 1 - - zzzzzzzz\n", 28, &a, &b),
	    -EINVAL);
	assert_int_equal(parse_summed("afile-update 1 - - ", "0"), -EINVAL);
	/* Summed right, but an identity that does not parse. */
	assert_int_equal(
	    parse_summed("afile-update 1 1:2:3.4:5.6x - ", ""), -EINVAL);
	assert_int_equal(parse_summed("afile-update 1 - 1:2 ", ""), -EINVAL);
}

/* Replace the sidecar's record with one that says @prev -> @cur. */
static void
put_record(const struct h_ctx *c, const struct afile__ident *prev,
    const struct afile__ident *cur)
{
	char buf[256];
	size_t n = afile__view_record_format(prev, cur, buf, sizeof(buf));
	int fd = openat(c->dfd, ".f.afile-lock", O_WRONLY | O_TRUNC);

	assert_true(n > 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

/*
 * A record whose published version is "f" as it is now, but another
 * inode, with its ctime moved by @ds seconds and @dns nanoseconds.
 */
static void
put_other_version(const struct h_ctx *c, int64_t ds, int64_t dns)
{
	struct afile__ident none = {0}, id;

	ident_of(c, "f", &id);
	assert_true(id.ctime_ns > 0 && id.ctime_ns < 999999999);
	id.ino++;
	id.ctime_s += ds;
	id.ctime_ns += dns;
	put_record(c, &none, &id);
}

static char *
record_text(const struct h_ctx *c)
{
	size_t len;
	char *rec = h_slurp(c, ".f.afile-lock", &len);

	assert_non_null(rec);
	return rec;
}

/* Fresh: the record's version, a newer ctime, no ctime, no file left. */
static void
test_judged_fresh(void **state)
{
	struct h_ctx *c = *state;
	struct afile__ident none = {0}, id, prev, cur, v8;

	assert_int_equal(update(c, NULL), 0);
	/* The last updater left no file: nothing newer can be missed. */
	ident_of(c, "f", &id);
	put_record(c, &id, &none);
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "2\n");
	/* A version of a later ctime than the one recorded. */
	put_other_version(c, 0, -1);
	assert_int_equal(update(c, NULL), 0);
	put_other_version(c, -1, 0);
	assert_int_equal(update(c, NULL), 0);
	/* A recorded version without a ctime orders nothing. */
	ident_of(c, "f", &id);
	id.ino++;
	id.ctime_s = id.ctime_ns = 0;
	put_record(c, &none, &id);
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "5\n");
	/* Seconds of 0 with nanoseconds is a ctime: later than that. */
	ident_of(c, "f", &id);
	id.ino++;
	id.ctime_s = 0;
	id.ctime_ns = 5;
	put_record(c, &none, &id);
	assert_int_equal(update(c, NULL), 0);
	/* A client that sees no ctime (GlusterFS's fstat) cannot order. */
	put_other_version(c, 0, 1);
	V.zero_ctime = true;
	assert_int_equal(update(c, NULL), 0);
	V.zero_ctime = false;
	/* A record that does not parse is none: nothing to wait for. */
	h_put(c, ".f.afile-lock", "garbage\n", 8, 0644);
	assert_int_equal(update(c, NULL), 0);
	assert_file(c, "f", "8\n");
	ident_of(c, "f", &v8);
	read_record(c, &prev, &cur);
	assert_true(prev.exists); /* what this update read */
	assert_true(afile__ident_same(&cur, &v8));
	assert_int_equal(V.slept_ns, 0);
}

/* Older by its ctime than the version recorded: stale, -ESTALE. */
static void
test_judged_older_ctime(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;
	char *before, *now;

	assert_int_equal(update(c, NULL), 0);
	for (int i = 0; i < 2; i++) {
		if (i == 0)
			put_other_version(c, 0, 1);
		else
			put_other_version(c, 1, 0);
		before = record_text(c);
		V.slept_ns = 0;
		assert_int_equal(update(c, &err), -ESTALE);
		assert_non_null(strstr(err.step, "older than the last update"));
		/* Waited (virtually) for the whole bound, then gave up. */
		assert_true(V.slept_ns >= 5000000000u);
		assert_file(c, "f", "1\n");
		now = record_text(c);
		assert_string_equal(now, before);
		free(now);
		free(before);
	}
	assert_entries(c, ".", ".f.afile-lock", "f");
}

/*
 * Maybe stale (another version of the same ctime tick, or no file at
 * all): waited out, then accepted.
 */
static void
test_judged_maybe(void **state)
{
	struct h_ctx *c = *state;

	assert_int_equal(update(c, NULL), 0);
	put_other_version(c, 0, 0);
	assert_int_equal(update(c, NULL), 0);
	assert_true(V.slept_ns >= 5000000000u);
	assert_file(c, "f", "2\n");
	/* A removal (afile_remove() does not record): a new file. */
	assert_int_equal(afile_remove(c->dfd, "f", 0, NULL), 0);
	V.slept_ns = 0;
	assert_int_equal(update(c, NULL), 0);
	assert_true(V.slept_ns >= 5000000000u);
	assert_file(c, "f", "1\n");
}

/* ------------------------------------------------------------------
 * The read's failures
 * ------------------------------------------------------------------ */

/* A stale handle for the whole bound: its own message, nothing changed. */
static void
test_estale_persists(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;

	assert_int_equal(update(c, NULL), 0);
	stale_left = -1;
	stale_errno = ESTALE;
	assert_int_equal(update(c, &err), -ESTALE);
	assert_non_null(strstr(err.step, "stayed stale"));
	assert_non_null(strstr(err.path, "f"));
	assert_true(stale_seen > 3);
	stale_left = 0;
	assert_file(c, "f", "1\n");
	assert_entries(c, ".", ".f.afile-lock", "f");
}

static void
test_read_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;
	struct afile__ident none = {0};

	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	/* Any other failure of the open is the read's, at once. */
	V.open_err = EACCES;
	assert_int_equal(update(c, &err), -EACCES);
	assert_string_equal(err.step, "read");
	assert_non_null(strstr(err.path, "f"));
	V.open_err = 0;
	V.arm_fstat = true;
	assert_int_equal(update(c, &err), -EIO);
	assert_string_equal(err.step, "read");
	V.arm_fstat = false;
	assert_int_equal(V.slept_ns, 0);
	assert_file(c, "f", "2\n");
	/*
	 * The name led elsewhere after the read: read again.  (The record
	 * says the last updater left no file, so that any version is fresh:
	 * only the inode check makes this read retry.)
	 */
	put_record(c, &none, &none);
	V.swap_stats = 2;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(V.swap_stats, 0);
	assert_true(V.slept_ns > 0);
	assert_file(c, "f", "3\n");
	/* ...also when only the device differs. */
	V.slept_ns = 0;
	V.flip_dev = 1;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(V.flip_dev, 0);
	assert_true(V.slept_ns > 0);
	assert_file(c, "f", "4\n");
	/* Not a regular file where the name led. */
	h_mkdir(c, "d", 0755);
	V.open_as = "d";
	assert_int_equal(update(c, &err), AFILE_ENOTREG);
	assert_string_equal(err.step, "read");
	V.open_as = NULL;
	assert_true(unlinkat(c->dfd, "d", AT_REMOVEDIR) == 0);
	/* The name went after the read, for good: stale. */
	V.stat_gone = true;
	assert_int_equal(update(c, &err), -ESTALE);
	V.stat_gone = V.gone_now = false;
	assert_file(c, "f", "4\n");
	assert_entries(c, ".", ".f.afile-lock", "f", "old");
}

/* ------------------------------------------------------------------
 * Publishing: a record only for what was published, as it is seen
 * ------------------------------------------------------------------ */

static int
fail_fn(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	(void)old;
	(void)old_len;
	(void)w;
	return -EIO;
}

static void
install_sync_fakes(void)
{
	afile__sys.fsync = fake_fsync;
	afile__sys.fdatasync = fake_fdatasync;
}

static void
test_finish_errors(void **state)
{
	struct h_ctx *c = *state;
	struct afile_errinfo err;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile__ident prev, cur, v;
	char *r1, *now;

	o.err = &err;
	assert_int_equal(update(c, NULL), 0);
	assert_int_equal(linkat(c->dfd, "f", c->dfd, "old", 0), 0);
	assert_int_equal(update(c, NULL), 0);
	r1 = record_text(c);
	/* The callback fails: nothing published, nothing recorded. */
	assert_int_equal(
	    afile_update(c->dfd, "f", fail_fn, NULL, AFILE_BREAK_HARDLINKS, &o),
	    -EIO);
	assert_string_equal(err.step, "update callback");
	/* The publication fails. */
	V.rename_err = EIO;
	assert_int_equal(update(c, &err), -EIO);
	V.rename_err = 0;
	/* The temp's sync fails. */
	install_sync_fakes();
	V.fsync_err = EIO;
	assert_int_equal(update(c, &err), -EIO);
	V.fsync_err = 0;
	assert_file(c, "f", "2\n");
	now = record_text(c);
	assert_string_equal(now, r1);
	free(now);

	/* Published, but its identity unknown: no record rather than a
	 * wrong one (the next updater finds a newer ctime: fresh). */
	V.fstat_after_sync = true;
	V.synced = false;
	assert_int_equal(update(c, NULL), 0);
	V.fstat_after_sync = false;
	assert_file(c, "f", "3\n");
	now = record_text(c);
	assert_string_equal(now, r1);
	free(now);
	/* The name leads elsewhere right after the publication: same. */
	V.swap_after_sync = true;
	V.synced = false;
	assert_int_equal(update(c, NULL), 0);
	V.swap_after_sync = false;
	assert_file(c, "f", "4\n");
	now = record_text(c);
	assert_string_equal(now, r1);
	free(now);

	/* Gone, or on another device, by name right after it: the same. */
	V.gone_after_sync = true;
	V.synced = false;
	assert_int_equal(update(c, NULL), 0);
	V.gone_after_sync = false;
	V.flip_dev_after_sync = true;
	V.synced = false;
	assert_int_equal(update(c, NULL), 0);
	V.flip_dev_after_sync = false;
	assert_file(c, "f", "6\n");
	now = record_text(c);
	assert_string_equal(now, r1);
	free(now);
	free(r1);
	/* The directory sync fails after the record: it names the version. */
	V.dirsync_err = EIO;
	assert_int_equal(update(c, &err), AFILE_EUNSYNCED);
	V.dirsync_err = 0;
	assert_file(c, "f", "7\n");
	ident_of(c, "f", &v);
	read_record(c, &prev, &cur);
	assert_true(afile__ident_same(&cur, &v));
	assert_entries(c, ".", ".f.afile-lock", "f", "old");
}

/* ------------------------------------------------------------------
 * afile_update()'s own edges (src/update.c), on a local file system
 * ------------------------------------------------------------------ */

static int
too_big_fn(void *ctx, const void *old, size_t old_len, struct afile_writer *w)
{
	(void)ctx;
	(void)old;
	(void)old_len;
	(void)w;
	return AFILE_UPDATE_KEEP + 1;
}

static void
test_update_edges(void **state)
{
	struct h_ctx *c = *state;
	struct afile_opts o = AFILE_OPTS_INIT;
	struct afile_errinfo err;
	struct stat st;

	magic = 0xEF53UL;
	o.err = &err;
	h_puts(c, "f", "41\n");
	/* Flags it does not take; a directory that does not exist. */
	assert_int_equal(
	    afile_update(c->dfd, "f", incr, NULL, AFILE_EXCHANGE, NULL),
	    -EINVAL);
	assert_int_equal(
	    afile_update(c->dfd, "nodir/f", incr, NULL, 0, &o), -ENOENT);
	assert_non_null(strstr(err.path, "nodir/f"));
	/* A callback that returns what no caller may return. */
	assert_int_equal(
	    afile_update(c->dfd, "f", too_big_fn, NULL, 0, &o), -EINVAL);
	assert_string_equal(err.step, "update callback");
	assert_file(c, "f", "41\n");
	/*
	 * With AFILE_NOFOLLOW a symlink is replaced by a file: it holds no
	 * contents to read, and the file it named stays as it was.
	 */
	h_symlink(c, "f", "link");
	assert_int_equal(
	    afile_update(c->dfd, "link", incr, NULL, AFILE_NOFOLLOW, NULL), 0);
	h_lstat(c, "link", &st);
	assert_true(S_ISREG(st.st_mode));
	assert_file(c, "link", "1\n");
	assert_file(c, "f", "41\n");
	assert_entries(
	    c, ".", "f", ".f.afile-lock", "link", ".link.afile-lock");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_roundtrip),
	    T(test_update_records),
	    T(test_local_records_nothing),
	    T(test_stale_view_waited_out),
	    T(test_stale_older_version),
	    T(test_stale_view_persists),
	    T(test_estale_retried),
	    T(test_absent_name_waited_for),
	    T(test_newer_unrecorded_version),
	    T(test_record_rejects),
	    T(test_judged_fresh),
	    T(test_judged_older_ctime),
	    T(test_judged_maybe),
	    T(test_estale_persists),
	    T(test_read_errors),
	    T(test_finish_errors),
	    T(test_update_edges),
	};
#undef T

	h_init();
	return h_main_result(cmocka_run_group_tests(tests, NULL, NULL));
}
