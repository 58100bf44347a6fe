/* SPDX-License-Identifier: MIT */
/*
 * cleanup.c - find and remove abandoned temporary files.
 *
 * A named temp is held under an exclusive OFD lock by its writer for its
 * whole life (tmp.c, invariant 1), and the kernel drops that lock when the
 * writer dies, however it dies.  So a temp whose lock can be taken is
 * abandoned, and one whose lock is held belongs to a live writer: no
 * guessing from timestamps, which fail both ways (a slow writer looks dead,
 * a fresh crash looks alive).  Where locks cannot be trusted (NFS), the
 * caller adds a minimum age.
 *
 * Invariants:
 *   1. Only regular files named ".*.XXXXXXXXXXXX.afile-tmp" are touched;
 *      lock sidecars (".*.afile-lock"), journals and everything else are
 *      never removed.
 *   2. A temp is removed only while the sweeper holds its lock, and only
 *      if its name still leads to the inode that was locked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "internal.h"

#define SUFFIX_LEN  (sizeof(AFILE__TMP_SUFFIX) - 1)
/*
 * The opportunistic sweep reads one small buffer: the first entries of a
 * directory, all of a small one.  A large directory costs block reads in
 * hash order that a replace should not pay for; afile_cleanup() is the
 * thorough sweep.  Measured with bench/run.sh in a 10,000-file directory.
 */
#define SWEEP_BUF   2048
#define CLEANUP_BUF 32768
/*
 * Where temps are unnamed (O_TMPFILE), only a writer killed between the
 * link and the rename of its publication (microseconds) leaves one: a
 * process sweeps at its first replace and then at every SWEEP_EVERY-th,
 * not at every one (a getdents is 5-15% of a small replace on tmpfs).
 */
#define SWEEP_EVERY 32

/* Looks like any target's temp: ".X.<12 chars>.afile-tmp" at least. */
static bool
looks_like_tmp(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '.' && len >= 1 + 1 + 1 + 12 + SUFFIX_LEN &&
	    !strcmp(name + len - SUFFIX_LEN, AFILE__TMP_SUFFIX) &&
	    name[len - SUFFIX_LEN - 13] == '.';
}

/*
 * Decide about one temp and, unless @dry_run, remove it.  Returns an
 * AFILE_CLEAN_* value or a negative error code; *@ret_size gets its size.
 */
static int
examine(int dfd, const char *name, uint64_t min_age_s, bool dry_run,
    uint64_t *ret_size)
{
	struct stat st, now_st;
	int fd, r;

	*ret_size = 0;
	fd = afile__openat(
	    dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return fd;
	r = afile__fstat(fd, &st);
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -EINVAL; /* invariant 1: not a temp of ours */
	if (r < 0)
		goto out;
	*ret_size = (uint64_t)st.st_size;
	if (min_age_s &&
	    afile__now_real_s() - st.st_mtime < (int64_t)min_age_s) {
		r = AFILE_CLEAN_YOUNG;
		goto out;
	}
	r = afile__lock_fd(fd, F_WRLCK, false);
	if (r == -EAGAIN) {
		r = AFILE_CLEAN_LIVE;
		goto out;
	}
	/* Without working locks only the minimum age can vouch for it. */
	if (r < 0 && !min_age_s)
		goto out;
	r = afile__fstatat(dfd, name, &now_st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		goto out;
	if (now_st.st_dev != st.st_dev || now_st.st_ino != st.st_ino) {
		r = AFILE_CLEAN_LIVE; /* invariant 2: replaced meanwhile */
		goto out;
	}
	r = dry_run ? 0 : afile__unlinkat(dfd, name, 0);
	if (r == 0)
		r = AFILE_CLEAN_REMOVED;
out:
	afile__close_quiet(fd); /* drops the lock */
	return r;
}

/* Call @fn for each entry of one getdents buffer. */
static void
each_entry(
    const char *buf, ssize_t n, void (*fn)(const char *, void *), void *ctx)
{
	for (ssize_t off = 0; off < n;) {
		const struct dirent64 *d = (const void *)(buf + off);

		fn(d->d_name, ctx);
		off += d->d_reclen;
	}
}

struct target_sweep {
	int dfd;
	const char *own; /* the sweeper's own temp, or NULL */
	char prefix[NAME_MAX + 1];
};

static void
sweep_one(const char *name, void *ctx)
{
	struct target_sweep *ts = ctx;
	uint64_t size;

	if (afile__is_tmp_of(name, ts->prefix) &&
	    !(ts->own && !strcmp(name, ts->own)))
		(void)examine(ts->dfd, name, 0, false, &size);
}

bool
afile__sweep_due(bool named)
{
	static _Atomic unsigned int unnamed;

	/* Where temps have names, every killed writer leaves one. */
	if (named || !afile__sys_real(AFILE__SYS_GETDENTS))
		return true;
	return unnamed++ % SWEEP_EVERY == 0;
}

void
afile__sweep_target(int dfd, const char *target, const char *own)
{
	_Alignas(struct dirent64) char buf[SWEEP_BUF];
	struct target_sweep ts = {.dfd = dfd, .own = own};
	ssize_t n;

	if (afile__hidden_name(target, ".", ts.prefix) < 0)
		return;
	n = afile__getdents(dfd, buf, sizeof(buf));
	if (n > 0)
		each_entry(buf, n, sweep_one, &ts);
}

struct tagged {
	int dfd;
	const char *tag;
	bool remove;
	uint64_t found;
	int err; /* the first failure to remove one */
};

static void
remove_one_tagged(const char *name, void *ctx)
{
	struct tagged *tg = ctx;
	size_t len = strlen(name), sl = sizeof(AFILE__TXN_SUFFIX) - 1;

	/* ".NAME." TAG(6) COUNTER(6) ".afile-txn" */
	if (name[0] != '.' || len < 1 + 1 + 1 + 12 + sl ||
	    strcmp(name + len - sl, AFILE__TXN_SUFFIX) ||
	    name[len - sl - 13] != '.' ||
	    memcmp(name + len - sl - 12, tg->tag, 6))
		return;
	if (tg->remove) {
		int r = afile__unlinkat(tg->dfd, name, 0);

		if (r < 0 && r != -ENOENT && !tg->err)
			tg->err = r;
		if (r < 0)
			return;
	}
	tg->found++;
}

int
afile__find_tagged(int dfd, const char *tag, bool remove, uint64_t *found)
{
	_Alignas(struct dirent64) char buf[CLEANUP_BUF / 4];
	struct tagged tg = {.tag = tag, .remove = remove};
	ssize_t n;

	/* Its own descriptor: the directory offset must start at 0. */
	tg.dfd = afile__openat(dfd, ".", O_RDONLY | O_DIRECTORY, 0);
	if (tg.dfd < 0)
		return tg.dfd;
	while ((n = afile__getdents(tg.dfd, buf, sizeof(buf))) > 0)
		each_entry(buf, n, remove_one_tagged, &tg);
	if (n < 0 && !tg.err)
		tg.err = (int)n;
	afile__close_quiet(tg.dfd);
	*found += tg.found;
	return tg.err;
}

struct dir_sweep {
	int dfd;
	uint64_t min_age_s;
	bool dry_run;
	struct afile_cleanup_report *rep;
};

static void
clean_one(const char *name, void *ctx)
{
	struct dir_sweep *ds = ctx;
	struct afile_cleanup_report *rep = ds->rep;
	uint64_t size;
	int what;

	if (!looks_like_tmp(name))
		return;
	what = examine(ds->dfd, name, ds->min_age_s, ds->dry_run, &size);
	if (what == AFILE_CLEAN_REMOVED) {
		rep->removed++;
		rep->bytes += size;
	} else if (what == AFILE_CLEAN_LIVE) {
		rep->live++;
	} else if (what == AFILE_CLEAN_YOUNG) {
		rep->young++;
	} else if (what == -ENOENT) {
		return; /* gone meanwhile: its writer published it */
	} else {
		rep->failed++;
	}
	if (rep->each)
		rep->each(name, what, rep->ctx);
}

int
afile_cleanup(int dirfd, const char *dir, uint64_t min_age_s,
    unsigned int flags, struct afile_cleanup_report *report)
{
	struct afile_cleanup_report local = {.size = sizeof(local)};
	struct dir_sweep ds = {.min_age_s = min_age_s};
	char *buf;
	ssize_t n;
	int r = 0;

	if (!dir || !*dir || (flags & ~AFILE_CLEAN_DRY_RUN) ||
	    (report && report->size != sizeof(*report)))
		return -EINVAL;
	if (report) {
		report->removed = report->bytes = report->live = 0;
		report->young = report->failed = 0;
	}
	ds.rep = report ? report : &local;
	ds.dry_run = (flags & AFILE_CLEAN_DRY_RUN) != 0;
	ds.dfd = afile__openat(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (ds.dfd < 0)
		return ds.dfd;
	buf = afile__malloc(CLEANUP_BUF);
	if (!buf) {
		afile__close_quiet(ds.dfd);
		return -ENOMEM;
	}
	while ((n = afile__getdents(ds.dfd, buf, CLEANUP_BUF)) > 0)
		each_entry(buf, n, clean_one, &ds);
	if (n < 0)
		r = (int)n;
	afile__free(buf);
	afile__close_quiet(ds.dfd);
	afile__stat_add(r == 0 ? AFILE__STAT_OPS : AFILE__STAT_FAILURES, 1);
	return r;
}
