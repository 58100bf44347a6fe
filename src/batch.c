/* SPDX-License-Identifier: MIT */
/*
 * batch.c - afile_write_many(): independent files, shared syncs.
 *
 * Each item is an ordinary replace through the writer (writer.c), but
 * the writers of a group are all prepared first, their temps synced
 * together (afile__fs_sync(): one syncfs per file system, or an fsync
 * each), then published one by one, and each distinct directory synced
 * once.  No journal: the items are not atomic together, each is atomic
 * alone.
 *
 * Invariants:
 *   1. Every temp of a group is durable before the first of them is
 *      published (the single-file protocol's order, shared).
 *   2. A group holds two descriptors per item until its shared sync: it
 *      is sized from the descriptor limit (BATCH_MIN to BATCH_MAX items).
 *   3. A failure stops the batch: items published before it stay
 *      published, the unpublished temps are discarded when their writers
 *      are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "txn.h"

#define BATCH_MIN 16
#define BATCH_MAX 4096

/* ------------------------------------------------------------------
 * Batches: independent files, shared syncs
 * ------------------------------------------------------------------ */

static int
sync_one_writer(void *ctx, size_t k)
{
	return afile__writer_sync(((struct afile_writer **)ctx)[k]);
}

/* Sync @n prepared writers' temps (@st: their directories). */
static int
batch_sync(struct afile__op *op, struct afile_writer **w, const struct stat *st,
    size_t n)
{
	struct fs_syncs fs = {.n = 0};
	size_t bad;
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t k = 0; k < n; k++) {
		r = afile__fs_sync(
		    &fs, afile__writer_target(w[k])->dfd, st[k].st_dev);
		if (r < 0)
			return afile__fail(op, r, "sync", ".");
	}
	if (!fs.each)
		return 0;
	/* Off the allowlist, or a busy disk: an fsync each, concurrently. */
	r = afile__each(n, sync_one_writer, w, &bad);
	if (r < 0)
		return afile__fail(op, r, "sync temporary file",
		    afile__writer_target(w[bad])->shown);
	return 0;
}

/* Sync each distinct directory of @n published writers once. */
static int
batch_sync_dirs(struct afile__op *op, struct afile_writer **w,
    const struct stat *st, size_t n)
{
	int r = 0;

	if (op->sync != AFILE_SYNC_FULL)
		return 0;
	for (size_t k = 0; k < n && r == 0; k++) {
		bool seen = false;

		for (size_t i = 0; i < k && !seen; i++)
			seen = st[i].st_dev == st[k].st_dev &&
			    st[i].st_ino == st[k].st_ino;
		if (!seen)
			r = afile__writer_sync_dir(w[k]);
		/* A refused directory sync lowered the writer's level. */
		if (afile__writer_op(w[k])->achieved > op->achieved)
			op->achieved = afile__writer_op(w[k])->achieved;
		if (r < 0)
			r = afile__fail_cause(op, AFILE_EUNSYNCED, r,
			    "sync directory",
			    afile__writer_target(w[k])->shown);
	}
	return r;
}

/* A name in the batch's directory itself, which its writer can share. */
static bool
plain_name(const char *path)
{
	return path && *path && !strchr(path, '/') && strcmp(path, ".") &&
	    strcmp(path, "..");
}

static int
batch(struct afile__op *op, int dirfd, const struct afile_item *items, size_t n,
    unsigned int flags)
{
	struct afile_writer **w = afile__malloc(n * sizeof(*w));
	struct stat *st = afile__malloc(n * sizeof(*st));
	char *mem = afile__malloc(n * afile__writer_size());
	struct afile__op sub;
	struct stat shared_st;
	size_t k, opened = 0;
	int shared = -1, r = 0;

	if (!w || !st || !mem) {
		afile__free(w);
		afile__free(st);
		afile__free(mem);
		return afile__fail(op, -ENOMEM, "write", ".");
	}
	memset(w, 0, n * sizeof(*w));
	for (k = 0; k < n && r == 0; k++) {
		sub = *op;
		sub.size_hint = items[k].len;
		if (!items[k].buf && items[k].len)
			r = afile__fail(
			    op, -EINVAL, "check arguments", items[k].path);
		/*
		 * Plain names share one descriptor of @dirfd, opened once
		 * (a directory open, close and fstat fewer per item).
		 */
		if (r == 0 && shared < 0 && plain_name(items[k].path)) {
			shared = afile__openat(
			    dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
			if (shared < 0)
				r = afile__fail(op, shared, "open directory",
				    items[k].path);
			else if (op->sync != AFILE_SYNC_NONE &&
			    (r = afile__fstat(shared, &shared_st)) < 0)
				r = afile__fail(op, r, "sync", items[k].path);
		}
		if (r == 0) {
			bool in_dir = plain_name(items[k].path);

			r = afile__writer_open_in(
			    mem + k * afile__writer_size(), &sub,
			    in_dir ? shared : dirfd, items[k].path,
			    flags | AFILE__NO_SWEEP |
				(in_dir ? AFILE__IN_DIR : 0),
			    NULL, &w[k]);
		}
		if (r == 0)
			opened++;
		if (r == 0)
			r = afile_writer_write(
			    w[k], items[k].buf, items[k].len);
		if (r == 0)
			r = afile__writer_prepare(w[k]);
		op->failed = op->failed || sub.failed ||
		    (w[k] && afile__writer_op(w[k])->failed);
	}
	/* Each item's directory, once: its file system and its identity. */
	for (k = 0; k < opened && r == 0 && op->sync != AFILE_SYNC_NONE; k++) {
		int dfd = afile__writer_target(w[k])->dfd;

		if (dfd == shared) {
			st[k] = shared_st;
			continue;
		}
		r = afile__fstat(dfd, &st[k]);
		if (r < 0)
			r = afile__fail(
			    op, r, "sync", afile__writer_target(w[k])->shown);
	}
	if (r == 0)
		r = batch_sync(op, w, st, opened);
	for (k = 0; k < opened && r == 0; k++) {
		r = afile__writer_publish(w[k]);
		if (r < 0)
			op->failed =
			    op->failed || afile__writer_op(w[k])->failed;
	}
	if (r == 0)
		r = batch_sync_dirs(op, w, st, opened);
	for (k = 0; k < opened; k++)
		afile_writer_free(w[k]);
	afile__close_quiet(shared); /* after the writers that borrowed it */
	afile__free(mem);
	afile__free(st);
	afile__free(w);
	return r;
}

int
afile_write_many(int dirfd, const struct afile_item *items, size_t n,
    unsigned int flags, const struct afile_opts *opts)
{
	struct afile__op op;
	size_t chunk;
	int r;

	r = afile__op_init(&op, flags,
	    AFILE_NOREPLACE | AFILE_NOFOLLOW | AFILE_BREAK_HARDLINKS |
		AFILE_OWNER_BEST_EFFORT | AFILE_SET_MODE,
	    opts);
	if (r == 0 && !items && n)
		r = afile__fail(&op, -EINVAL, "check arguments", "");
	/*
	 * A group holds two descriptors per item (temp and directory) until
	 * its shared sync: as large as the descriptor limit allows, so that
	 * most batches need one syncfs (bench/bench_batch.c: 4 groups of 256
	 * cost 8.5x a single write where one group of 1000 gives 11x).
	 */
	chunk = afile__fd_budget() / 2;
	chunk = chunk < BATCH_MIN ? BATCH_MIN
	    : chunk > BATCH_MAX   ? BATCH_MAX
				  : chunk;
	for (size_t k = 0; r == 0 && k < n; k += chunk)
		r = batch(&op, dirfd, items + k, n - k < chunk ? n - k : chunk,
		    flags);
	return afile__op_done(&op, r);
}
