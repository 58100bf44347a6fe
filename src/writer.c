/* SPDX-License-Identifier: MIT */
/*
 * writer.c - the streaming writer; every single-file operation uses it.
 *
 * Protocol (DESIGN §4, "Replace" and "Create"):
 *   open:   resolve the target; refuse directories, devices, FIFOs and
 *           (by default) hard-linked files; capture the metadata to keep;
 *           create the temp (tmp.c); give it the owner and attributes at
 *           once, so that a caller who may not keep them learns it before
 *           writing any data; reserve space when the size is known.
 *   write:  append to the temp; the target is never touched.
 *   commit: apply the final mode (after the data: a write by an
 *           unprivileged process clears set-user-ID bits), sync the temp,
 *           publish it, close it (only then: its lock must cover the
 *           rename), sync the directory.
 *
 * State diagram:
 *
 *	afile_writer_open --> OPEN --write/fd--> OPEN --commit ok--> DONE
 *	                       |  \                 \
 *	                       |   write error       commit error
 *	                       |        v               v
 *	                       |     POISONED --commit--> DONE (temp gone)
 *	                       v        |
 *	           afile_writer_free <--+  (any state; removes the temp)
 *
 * Invariants:
 *   1. Until publication the target is untouched: every failure before it
 *      discards the temp (name unlinked, descriptor closed).
 *   2. In DONE no temp exists: it was published or discarded.
 *   3. POISONED is entered on any failed write or sync and never left: a
 *      second attempt could report data as durable that the kernel
 *      already dropped.
 *   4. A named temp is created with mode 0600 when metadata will be
 *      applied, so no other user can open it meanwhile; otherwise with
 *      0666 and the kernel applies the umask or the directory's default
 *      ACL exactly as it would for an ordinary new file.
 *   5. An unnamed (O_TMPFILE) temp, which nobody else can open, is
 *      created with the final mode unless it has set-ID or sticky bits
 *      (a write would clear them).  Where the temp as created (one
 *      fstat) already has the final mode (the umask and a default ACL
 *      took nothing) and no attribute (an ACL) changes it, the commit
 *      applies no mode, and an owner it already has is not applied.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Below this, reserving space costs more than it saves. */
#define PREALLOC_MIN  (64u * 1024)
/* Chunk of in-kernel copies, so that progress can be reported. */
#define COPY_CHUNK    (8u * 1024 * 1024)
/* Buffer of the read/write fallback copy. */
#define RW_CHUNK      (1024u * 1024)
#define PUBLISH_TRIES 100
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

enum state { OPEN, POISONED, DONE };

struct afile_writer {
	enum state state;
	unsigned int flags;
	struct afile__op op;
	struct afile__target t;
	struct afile__tmp tmp;
	struct afile__meta own_meta;    /* captured from the target */
	const struct afile__meta *meta; /* what to apply, or NULL */
	bool set_times;                 /* copy: keep the source's times */
	bool chmod;                     /* apply final_mode at commit */
	mode_t final_mode;
	int lock_fd;    /* AFILE_LOCK: the held sidecar */
	bool placed;    /* in the caller's memory: free does not free it */
	bool one_flush; /* the temp was only written back (sync.c) */
	/* afile_txn_writer(): commit and free go to the owner (a txn) */
	const struct afile__writer_owner *owner;
	void *owner_ctx;
};

void
afile__writer_set_owner(
    struct afile_writer *w, const struct afile__writer_owner *owner, void *ctx)
{
	w->owner = owner;
	w->owner_ctx = ctx;
}

void
afile__writer_orphan(struct afile_writer *w)
{
	/* Discard while the borrowed directory is still open. */
	if (w->tmp.fd >= 0 || w->tmp.named)
		afile__tmp_discard(w->t.dfd, &w->tmp);
	w->owner = NULL;
	w->t.dfd = -1;
	w->state = DONE;
}

struct afile__op *
afile__writer_op(struct afile_writer *w)
{
	return &w->op;
}

const struct afile__target *
afile__writer_target(const struct afile_writer *w)
{
	return &w->t;
}

int
afile__writer_lock_fd(const struct afile_writer *w)
{
	return w->lock_fd;
}

/* Refuse targets that cannot or must not be replaced. */
static int
check_target(struct afile_writer *w)
{
	const struct afile__target *t = &w->t;

	if (!t->exists) {
		if (w->flags & AFILE__MUST_EXIST)
			return afile__fail(
			    &w->op, -ENOENT, "check target", t->shown);
		return 0;
	}
	if (w->flags & AFILE_NOREPLACE)
		return afile__fail(&w->op, -EEXIST, "check target", t->shown);
	if (S_ISLNK(t->st.st_mode)) /* AFILE_NOFOLLOW: replace the link */
		return (w->flags & AFILE__MUST_EXIST)
		    ? afile__fail(
			  &w->op, AFILE_ENOTREG, "check target", t->shown)
		    : 0;
	if (S_ISDIR(t->st.st_mode))
		return afile__fail(&w->op, -EISDIR, "check target", t->shown);
	if (!S_ISREG(t->st.st_mode))
		return afile__fail(
		    &w->op, AFILE_ENOTREG, "check target", t->shown);
	if (t->st.st_nlink > 1 && !(w->flags & AFILE_BREAK_HARDLINKS))
		return afile__fail(
		    &w->op, AFILE_EHARDLINKS, "check target", t->shown);
	return 0;
}

/*
 * The rules that depend on who the caller is, for an existing regular
 * target; run once the temp exists (before any data), whose owner is the
 * caller's file-system uid: the uid the kernel checks, and no geteuid.
 */
static int
check_owner_rules(struct afile_writer *w)
{
	const struct afile__target *t = &w->t;
	struct stat dst;
	uid_t euid;
	int r;

	/*
	 * In a sticky directory (/tmp) only the owner of a file or of the
	 * directory may rename over it.  The rename would fail only after
	 * all the data was written; say so now.
	 */
	euid = afile__op_euid(&w->op);
	if (euid != 0 && t->st.st_uid != euid) {
		r = afile__fstat(t->dfd, &dst);
		if (r < 0)
			return afile__fail(
			    &w->op, r, "check directory", t->shown);
		if ((dst.st_mode & S_ISVTX) && dst.st_uid != euid)
			return afile__fail(
			    &w->op, -EPERM, "check sticky directory", t->shown);
	}
	/* Never hand data to a file another user planted (path.c). */
	return afile__target_check_planted(&w->op, t);
}

/* Apply owner and attributes to the fresh temp (invariant 4). */
static int
apply_meta(struct afile_writer *w, bool best_effort, const struct stat *now)
{
	int r;

	r = afile__meta_apply_owner(
	    &w->op, w->meta, w->tmp.fd, best_effort, now, w->t.shown);
	if (r < 0)
		return r;
	return afile__meta_apply_xattrs(&w->op, w->meta, w->tmp.fd, w->t.shown);
}

static int
reserve(struct afile_writer *w, uint64_t size)
{
	int r;

	if (size < PREALLOC_MIN)
		return 0;
	r = afile__fallocate(w->tmp.fd, size);
	if (r == -EOPNOTSUPP || r == -ENOSYS || r == -EINVAL)
		return 0; /* a hint only */
	if (r < 0)
		return afile__fail(&w->op, r, "reserve space", w->t.shown);
	return 0;
}

size_t
afile__writer_size(void)
{
	return sizeof(struct afile_writer);
}

int
afile__writer_open(struct afile__op *op, int dirfd, const char *path,
    unsigned int flags, const struct afile__meta *meta_from,
    struct afile_writer **ret_writer)
{
	return afile__writer_open_in(
	    NULL, op, dirfd, path, flags, meta_from, ret_writer);
}

int
afile__writer_open_in(void *mem, struct afile__op *op, int dirfd,
    const char *path, unsigned int flags, const struct afile__meta *meta_from,
    struct afile_writer **ret_writer)
{
	const struct stat *known = NULL;
	struct afile_writer *w = mem;
	mode_t mode, unnamed_mode;
	bool replacing;
	struct stat now;
	int r;

	if (!w)
		w = afile__malloc(sizeof(*w));
	if (!w)
		return afile__fail(op, -ENOMEM, "allocate writer", path);
	memset(w, 0, sizeof(*w));
	w->placed = mem != NULL;
	w->op = *op;
	w->flags = flags;
	w->tmp.fd = -1;
	w->tmp.slot = -1;
	w->lock_fd = -1;
	w->state = DONE; /* until the temp exists, free has nothing to do */

	if (!(flags & (AFILE__AT | AFILE__IN_DIR))) {
		r = afile__target_open(
		    &w->op, dirfd, path, !(flags & AFILE_NOFOLLOW), &w->t);
	} else {
		r = afile__target_at(&w->op, dirfd, path, &w->t);
		if (r == 0 && (flags & AFILE__IN_DIR) && w->t.exists &&
		    S_ISLNK(w->t.st.st_mode) && !(flags & AFILE_NOFOLLOW)) {
			/* A symlink to follow: resolve the whole way. */
			afile__target_close(&w->t);
			r = afile__target_open(
			    &w->op, dirfd, path, true, &w->t);
		}
	}
	if (r < 0)
		goto fail;
	if (flags & AFILE_LOCK) {
		r = afile__target_lock(&w->op, &w->t, &w->lock_fd);
		if (r < 0)
			goto fail;
	}
	r = check_target(w);
	if (r < 0)
		goto fail;
	replacing = w->t.exists && S_ISREG(w->t.st.st_mode);

	if (meta_from) {
		w->meta = meta_from;
		w->set_times = true;
	} else if (replacing) {
		/* The attributes are read below, after the owner rules. */
		w->own_meta.st = w->t.st;
		w->meta = &w->own_meta;
	}
	if (w->meta) {
		w->chmod = true;
		w->final_mode = w->meta->st.st_mode & 07777;
	}
	if (flags & AFILE_SET_MODE) {
		w->chmod = true;
		w->final_mode = op->mode & 07777;
	}
	mode = w->chmod ? 0600 : 0666; /* invariant 4 */
	unnamed_mode = mode;
	if (w->chmod && !(w->final_mode & 07000))
		unnamed_mode = w->final_mode; /* invariant 5 */

	r = afile__tmp_create(
	    &w->op, w->t.dfd, w->t.name, mode, unnamed_mode, &w->tmp);
	if (r < 0)
		goto fail;
	w->state = OPEN;
	/* Temps of this target whose writers died: remove them now. */
	if (!(flags & AFILE__NO_SWEEP) && afile__sweep_due(w->tmp.named))
		afile__sweep_target(
		    w->t.dfd, w->t.name, w->tmp.named ? w->tmp.name : NULL);
	if (replacing) {
		r = afile__fstat(w->tmp.fd, &now);
		if (r < 0) {
			r = afile__fail(
			    &w->op, r, "create temporary file", w->t.shown);
			goto fail;
		}
		known = &now;
		if (!w->op.have_euid) {
			w->op.euid = now.st_uid;
			w->op.have_euid = true;
		}
		r = check_owner_rules(w);
		if (r < 0)
			goto fail;
	}
	if (w->meta == &w->own_meta) {
		r = afile__meta_capture_target(&w->op, &w->own_meta, &w->t);
		if (r < 0)
			goto fail;
	}
	if (w->meta) {
		r = apply_meta(
		    w, (flags & AFILE_OWNER_BEST_EFFORT) != 0, known);
		if (r < 0)
			goto fail;
	}
	/* Invariant 5: born with the final mode, nothing to change later. */
	if (known && w->chmod && (known->st_mode & 07777) == w->final_mode &&
	    !w->meta->xattrs_len)
		w->chmod = false;
	r = reserve(w, op->size_hint);
	if (r < 0)
		goto fail;
	*ret_writer = w;
	return 0;
fail:
	*op = w->op; /* hand the error detail back */
	afile_writer_free(w);
	return r;
}

int
afile_writer_open(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts, struct afile_writer **ret_writer)
{
	struct afile__op op;
	int r;

	if (ret_writer)
		*ret_writer = NULL;
	r = afile__op_init(&op, flags,
	    AFILE__PUBLIC_FLAGS & ~(unsigned int)AFILE_EXCHANGE, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if (!ret_writer)
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check arguments", path));
	r = afile__writer_open(&op, dirfd, path, flags, NULL, ret_writer);
	if (r < 0)
		return afile__op_done(&op, r);
	return 0;
}

/* Invariant 3: a failed write or sync poisons the writer for good. */
static int
poison(struct afile_writer *w, int r, const char *step)
{
	w->state = POISONED;
	return afile__fail(&w->op, r, step, w->t.shown);
}

static int
check_open(struct afile_writer *w)
{
	if (!w || w->state == DONE)
		return -EINVAL;
	if (w->state == POISONED)
		return AFILE_EPOISONED;
	return 0;
}

int
afile_writer_write(struct afile_writer *w, const void *buf, size_t len)
{
	int r = check_open(w);

	if (r < 0)
		return r;
	if (!buf && len)
		return -EINVAL;
	r = afile__write_all(w->tmp.fd, buf, len);
	if (r < 0)
		return poison(w, r, "write temporary file");
	return 0;
}

int
afile__writer_pwrite(
    struct afile_writer *w, const void *buf, size_t len, uint64_t off)
{
	int r = check_open(w);

	if (r < 0)
		return r;
	r = afile__pwrite_all(w->tmp.fd, buf, len, off);
	if (r < 0)
		return poison(w, r, "write temporary file");
	return 0;
}

int
afile_writer_fd(struct afile_writer *w)
{
	int r = check_open(w);

	return r < 0 ? r : w->tmp.fd;
}

/* Copy by reading and writing, for when the kernel cannot copy. */
static int
fill_rw(struct afile_writer *w, int src_fd, uint64_t size)
{
	uint64_t done = 0;
	char *buf;
	ssize_t n;
	int r = 0;

	buf = afile__malloc(RW_CHUNK);
	if (!buf)
		return afile__fail(&w->op, -ENOMEM, "copy", w->t.shown);
	for (;;) {
		n = afile__read(src_fd, buf, RW_CHUNK);
		if (n < 0) {
			r = afile__fail(
			    &w->op, (int)n, "read source", w->t.shown);
			break;
		}
		if (n == 0)
			break;
		afile__stat_add(AFILE__STAT_BYTES_READ, (uint64_t)n);
		r = afile__write_all(w->tmp.fd, buf, (size_t)n);
		if (r < 0) {
			r = poison(w, r, "write temporary file");
			break;
		}
		done += (uint64_t)n;
		if (w->op.progress &&
		    w->op.progress(done, size, w->op.progress_ctx)) {
			r = afile__fail(&w->op, -ECANCELED, "copy", w->t.shown);
			break;
		}
	}
	afile__free(buf);
	return r;
}

int
afile__writer_fill(struct afile_writer *w, int src_fd, uint64_t size)
{
	uint64_t in = 0, out = 0;
	ssize_t n;
	int r = check_open(w);

	if (r < 0)
		return r;
	/* Share extents (xfs, btrfs): cost independent of the size. */
	r = afile__ficlone(w->tmp.fd, src_fd);
	if (r == 0) {
		if (w->op.progress &&
		    w->op.progress(size, size, w->op.progress_ctx))
			return afile__fail(
			    &w->op, -ECANCELED, "copy", w->t.shown);
		return 0;
	}
	r = reserve(w, size);
	if (r < 0)
		return r;
	/* In-kernel copy; on EXDEV or no support, read and write. */
	for (;;) {
		n = afile__copy_file_range(
		    src_fd, &in, w->tmp.fd, &out, COPY_CHUNK);
		if (n < 0 && in == 0 &&
		    (n == -EXDEV || n == -ENOSYS || n == -EOPNOTSUPP ||
			n == -EINVAL || n == -EBADF))
			return fill_rw(w, src_fd, size);
		if (n < 0)
			return poison(w, (int)n, "copy");
		if (n == 0)
			return 0;
		if (w->op.progress &&
		    w->op.progress(out, size, w->op.progress_ctx))
			return afile__fail(
			    &w->op, -ECANCELED, "copy", w->t.shown);
	}
}

/* Give the unnamed temp a name beside the target, for the rename. */
static int
name_temp(struct afile_writer *w)
{
	int r = afile__tmp_give_name(w->t.dfd, &w->tmp, w->t.name);

	if (r < 0)
		return afile__fail(
		    &w->op, r, "name temporary file", w->t.shown);
	return 0;
}

/*
 * Close the published temp.  It stays open, and so locked, until its
 * name is gone: closing it earlier would let a sweeper take the lock and
 * remove a live writer's temp before the rename (tmp.c, invariant 1).
 * A close error is not reported: the sync before publication already
 * answered for the data, and with AFILE_SYNC_NONE nothing is promised.
 */
static void
close_published(struct afile_writer *w)
{
	afile__close_quiet(w->tmp.fd);
	w->tmp.fd = -1;
}

/* Create: publish only if the name is free, atomically. */
static int
publish_new(struct afile_writer *w)
{
	int dfd = w->t.dfd, r;

	if (!w->tmp.named) {
		/* linkat never replaces: it is the atomic create. */
		r = afile__tmp_link(dfd, &w->tmp, w->t.name);
		if (r < 0)
			return afile__fail(&w->op, r, "publish", w->t.shown);
		close_published(w);
		return 0;
	}
	r = afile__renameat2(
	    dfd, w->tmp.name, dfd, w->t.name, RENAME_NOREPLACE);
	if (r == -ENOSYS || r == -EINVAL || afile__unsupported(r)) {
		/* No renameat2: link, which fails on an existing name. */
		r = afile__linkat(dfd, w->tmp.name, dfd, w->t.name, 0);
		if (r == 0) {
			(void)afile__unlinkat(dfd, w->tmp.name, 0);
			afile__tmp_published(&w->tmp);
		}
	} else if (r == 0) {
		afile__tmp_published(&w->tmp);
	}
	if (r < 0)
		return afile__fail(&w->op, r, "publish", w->t.shown);
	close_published(w);
	return 0;
}

/* Replace: rename over the target. */
static int
publish_replace(struct afile_writer *w)
{
	int r;

	if (!w->tmp.named && !w->t.exists) {
		/*
		 * Nothing to replace: link the unnamed temp under the
		 * target's name at once (no temp name, lock or rename).
		 * Someone created it meanwhile: replace it as usual.
		 */
		r = afile__tmp_link(w->t.dfd, &w->tmp, w->t.name);
		if (r == 0) {
			close_published(w);
			return 0;
		}
		if (r != -EEXIST)
			return afile__fail(&w->op, r, "publish", w->t.shown);
	}
	if (!w->tmp.named) {
		r = name_temp(w);
		if (r < 0)
			return r;
	}
	r = afile__renameat2(w->t.dfd, w->tmp.name, w->t.dfd, w->t.name, 0);
	if (r < 0)
		return afile__fail(&w->op, r, "rename", w->t.shown);
	afile__tmp_published(&w->tmp);
	close_published(w);
	return 0;
}

/* Discard after a failure before publication (invariant 1). */
static int
abandon(struct afile_writer *w, int r)
{
	afile__tmp_discard(w->t.dfd, &w->tmp);
	w->state = DONE;
	return r;
}

int
afile__writer_prepare(struct afile_writer *w)
{
	int r = check_open(w);

	if (r < 0) {
		if (w && w->state == POISONED)
			(void)abandon(w, r);
		return r;
	}
	if (w->chmod) {
		r = afile__fchmod(w->tmp.fd, w->final_mode);
		if (r < 0)
			return abandon(w,
			    afile__fail(&w->op, r, "apply mode", w->t.shown));
	}
	if (w->set_times) {
		struct timespec ts[2] = {
		    w->meta->st.st_atim, w->meta->st.st_mtim};

		r = afile__futimens(w->tmp.fd, ts);
		if (r < 0)
			return abandon(w,
			    afile__fail(&w->op, r, "apply times", w->t.shown));
	}
	return 0;
}

int
afile__writer_sync(struct afile_writer *w)
{
	int r = afile__sync_file(&w->op, w->tmp.fd, w->chmod || w->meta);

	if (r < 0)
		return abandon(w, poison(w, r, "sync temporary file"));
	return 0;
}

int
afile__writer_publish(struct afile_writer *w)
{
	int r;

	if (w->flags & AFILE_NOREPLACE)
		r = publish_new(w);
	else
		r = publish_replace(w);
	if (r < 0)
		return abandon(w, r);
	w->state = DONE; /* invariant 2: the temp is now the target */
	return 0;
}

int
afile__writer_sync_dir(struct afile_writer *w)
{
	/* After a one-flush temp, the directory's sync is the data's too. */
	int r = w->one_flush ? afile__fsync_dir(w->t.dfd)
			     : afile__sync_dir(&w->op, w->t.dfd);

	if (r < 0)
		return afile__fail_cause(
		    &w->op, AFILE_EUNSYNCED, r, "sync directory", w->t.shown);
	return 0;
}

int
afile__writer_stage(struct afile_writer *w, struct afile__tmp *ret_tmp)
{
	int r = afile__writer_prepare(w);

	if (r < 0)
		return r;
	/* Staged temps are created named (op.stage_name): hand it over. */
	assert(w->tmp.named);
	*ret_tmp = w->tmp;
	w->tmp.fd = -1;
	w->tmp.named = false;
	w->tmp.slot = -1;
	w->state = DONE;
	return 0;
}

/*
 * The sync step of a whole commit: publication and the directory sync
 * follow at once, so the one-flush protocol may be chosen (sync.c).
 */
static int
commit_sync(struct afile_writer *w)
{
	int r = afile__sync_temp(&w->op, w->tmp.fd, w->chmod || w->meta,
	    w->t.exists ? &w->t.st : NULL, &w->one_flush);

	if (r < 0)
		return abandon(w, poison(w, r, "sync temporary file"));
	return 0;
}

int
afile__writer_commit(struct afile_writer *w)
{
	int r = afile__writer_prepare(w);

	if (r == 0)
		r = commit_sync(w);
	if (r == 0)
		r = afile__writer_publish(w);
	if (r == 0)
		r = afile__writer_sync_dir(w);
	return r;
}

int
afile_writer_commit(struct afile_writer *w)
{
	int r;

	if (!w)
		return -EINVAL;
	if (w->owner)
		return w->owner->commit(w->owner_ctx, w);
	r = afile__writer_commit(w);
	return afile__op_done(&w->op, r);
}

int
afile__writer_finish(struct afile__op *op, struct afile_writer *w, int r)
{
	if (r == 0)
		r = afile__writer_commit(w);
	*op = w->op;
	afile_writer_free(w);
	return r;
}

void
afile_writer_free(struct afile_writer *w)
{
	if (!w)
		return;
	if (w->owner)
		w->owner->drop(w->owner_ctx, w);
	if (w->tmp.fd >= 0 || w->tmp.named)
		afile__tmp_discard(w->t.dfd, &w->tmp);
	/* After the commit or the discard: the lock covered all of it. */
	afile__close_quiet(w->lock_fd);
	afile__target_close(&w->t);
	afile__meta_done(&w->own_meta);
	if (!w->placed)
		afile__free(w);
}
