/* SPDX-License-Identifier: MIT */
/*
 * ops.c - one-shot operations: write, read, remove, copy, rename, patch.
 *
 * Every operation that produces new contents runs the writer (writer.c),
 * so that the temp-sync-publish-sync protocol and its error handling exist
 * once.  The operations here only decide where the contents come from:
 * a buffer (write), another file (copy, a move across file systems), or
 * the file itself plus a change (patch).  Remove and rename change names
 * only, and sync the directories that hold them.
 *
 * Each public function: check the arguments (afile__op_init), do the
 * work, and end in afile__op_done(), which counts the call and reports
 * the durability reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define WRITE_FLAGS                                                 \
	(AFILE_NOREPLACE | AFILE_NOFOLLOW | AFILE_BREAK_HARDLINKS | \
	    AFILE_OWNER_BEST_EFFORT | AFILE_SET_MODE | AFILE_LOCK)

int
afile_write(int dirfd, const char *path, const void *buf, size_t len,
    unsigned int flags, const struct afile_opts *opts)
{
	struct afile_writer *w;
	struct afile__op op;
	int r;

	r = afile__op_init(&op, flags, WRITE_FLAGS, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if (!buf && len)
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check arguments", path));
	if (!op.size_hint)
		op.size_hint = len;
	r = afile__writer_open(&op, dirfd, path, flags, NULL, &w);
	if (r < 0)
		return afile__op_done(&op, r);
	r = afile_writer_write(w, buf, len);
	return afile__op_done(&op, afile__writer_finish(&op, w, r));
}

int
afile__read_fd(int fd, char **ret_buf, size_t *ret_len)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf = NULL, *p;
	ssize_t n;
	int r;

	/* Not the times: a reader must not make the next patch stamp them. */
	r = afile__fstatat(fd, "", &st, AT_EMPTY_PATH | AFILE__AT_NOTIME);
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if ((uint64_t)st.st_size >= SIZE_MAX - 2)
		return -EFBIG;
	/*
	 * Room for the size, the NUL and one more byte, so that the read
	 * that sees EOF needs no regrowth.  Files whose size says nothing
	 * (/proc, pipes) start at 4 KiB and double.
	 */
	cap = (size_t)st.st_size + 2;
	if (cap < 4096)
		cap = 4096;
	for (;;) {
		if (len + 1 >= cap || !buf) {
			if (buf)
				cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			p = afile__realloc(buf, cap);
			if (!p) {
				afile__free(buf);
				return -ENOMEM;
			}
			buf = p;
		}
		n = afile__read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			afile__free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		afile__stat_add(AFILE__STAT_BYTES_READ, (uint64_t)n);
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/*
 * afile_read() on NFS, GlusterFS and other network file systems: a name
 * can lead to an inode another client has replaced, and the open, its
 * lock or a read then fails with ESTALE (a stale file handle).
 *
 * Invariants:
 *   1. ESTALE from the open, the lock or any read retries the whole open
 *      and read, from a fresh path walk, READ_STALE_TRIES times in all,
 *      waiting 10 then 20 ms.  The kernel itself retries a path walk once
 *      with LOOKUP_REVAL (every cached dentry revalidated), so a second
 *      walk of ours meets the new inode; a third covers one more
 *      replacement racing it.  A handle that stays stale beyond that is
 *      a client cache that will not let go (attribute or entry timeouts),
 *      which must show as an error, not as a reader that hangs.
 *   2. Every attempt closes what it opened and frees what it read; the
 *      call ends with -ESTALE and a step that says the handle stayed
 *      stale, naming the path.
 */
#define READ_STALE_TRIES      3
#define READ_STALE_BACKOFF_NS 10000000u
#define READ_STALE_STEP                                      \
	"read (the file handle stayed stale after 3 tries: " \
	"replaced by another client?)"

int
afile__read_file(int dirfd, const char *path, void **ret_buf, size_t *ret_len,
    unsigned int flags, const struct afile_opts *opts,
    afile__before_read *before)
{
	struct afile__op op;
	char *buf = NULL;
	size_t len = 0;
	int fd, r;

	if (ret_buf)
		*ret_buf = NULL;
	if (ret_len)
		*ret_len = 0;
	r = afile__op_init(&op, flags, AFILE_NOFOLLOW, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if (!ret_buf || !ret_len || !path || !*path)
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check arguments", path));
	r = before ? before(&op, dirfd) : 0;
	if (r < 0)
		return afile__op_done(&op, r);
	for (unsigned int tries = 1;; tries++) {
		/* A shared lock, and no interrupted in-place patch. */
		fd = afile__open_shared(&op, dirfd, path, flags, 0);
		r = fd < 0 ? fd : afile__read_fd(fd, &buf, &len);
		if (fd >= 0)
			afile__close_quiet(fd);
		if (r != -ESTALE || tries == READ_STALE_TRIES)
			break;
		/* Invariant 1 above: a stale handle, walk the path again. */
		op.failed = false;
		afile__stat_add(AFILE__STAT_RETRIES, 1);
		afile__sleep_ns((uint64_t)READ_STALE_BACKOFF_NS << (tries - 1));
	}
	if (r == -ESTALE) {
		op.failed = false; /* name the retries, not the last step */
		return afile__op_done(
		    &op, afile__fail(&op, r, READ_STALE_STEP, path));
	}
	if (fd < 0)
		return afile__op_done(&op, fd);
	if (r < 0)
		return afile__op_done(&op,
		    afile__fail(&op, r, r == -EISDIR ? "open" : "read", path));
	*ret_buf = buf;
	*ret_len = len;
	return afile__op_done(&op, 0);
}

int
afile_remove(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts)
{
	struct afile__target t;
	struct afile__op op;
	int lock_fd = -1, r;

	r = afile__op_init(&op, flags, AFILE_LOCK, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	r = afile__target_open(&op, dirfd, path, false, &t);
	if (r < 0)
		return afile__op_done(&op, r);
	if ((flags & AFILE_LOCK) &&
	    (r = afile__target_lock(&op, &t, &lock_fd)) < 0)
		; /* r says why */
	else if (!t.exists)
		r = afile__fail(&op, -ENOENT, "remove", t.shown);
	else if (S_ISDIR(t.st.st_mode))
		r = afile__fail(&op, -EISDIR, "remove", t.shown);
	else if ((r = afile__unlinkat(t.dfd, t.name, 0)) < 0)
		r = afile__fail(&op, r, "remove", t.shown);
	else if ((r = afile__sync_dir(&op, t.dfd)) < 0)
		r = afile__fail_cause(
		    &op, AFILE_EUNSYNCED, r, "sync directory", t.shown);
	afile__close_quiet(lock_fd);
	afile__target_close(&t);
	return afile__op_done(&op, r);
}

/*
 * Open a copy source: follow symlinks, insist on a regular file, and
 * capture its metadata.
 */
static int
open_source(struct afile__op *op, int dirfd, const char *path, bool follow,
    struct afile__meta *m)
{
	int fd, r;

	fd = afile__openat(dirfd, path,
	    O_RDONLY | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW), 0);
	if (fd < 0)
		return afile__fail(op, fd, "open source", path);
	r = afile__meta_capture(op, m, fd, NULL, path);
	if (r == 0 && S_ISDIR(m->st.st_mode))
		r = afile__fail(op, -EISDIR, "open source", path);
	else if (r == 0 && !S_ISREG(m->st.st_mode))
		r = afile__fail(op, AFILE_ENOTREG, "open source", path);
	if (r < 0) {
		afile__meta_done(m);
		afile__close_quiet(fd);
		return r;
	}
	return fd;
}

/* Copy an open source with its metadata to (dirfd, dst), atomically. */
static int
copy_fd(struct afile__op *op, int src_fd, const struct afile__meta *m,
    int dirfd, const char *dst, unsigned int flags)
{
	struct afile_writer *w;
	int r;

	r = afile__writer_open(op, dirfd, dst, flags, m, &w);
	if (r < 0)
		return r;
	r = afile__writer_fill(w, src_fd, (uint64_t)m->st.st_size);
	return afile__writer_finish(op, w, r);
}

int
afile_copy(int sdirfd, const char *src, int ddirfd, const char *dst,
    unsigned int flags, const struct afile_opts *opts)
{
	struct afile__meta m;
	struct afile__op op;
	int fd, r;

	r = afile__op_init(&op, flags, WRITE_FLAGS, opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if (!src || !*src || src[strlen(src) - 1] == '/')
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check arguments", src));
	fd = open_source(&op, sdirfd, src, true, &m);
	if (fd < 0)
		return afile__op_done(&op, fd);
	/* Like cp -p, an owner that cannot be kept is not an error. */
	r = copy_fd(&op, fd, &m, ddirfd, dst, flags | AFILE_OWNER_BEST_EFFORT);
	afile__meta_done(&m);
	afile__close_quiet(fd);
	return afile__op_done(&op, r);
}

/* Same directory?  Then one sync covers both names. */
static bool
same_dir(int a, int b)
{
	struct stat sa, sb;

	if (afile__fstat(a, &sa) < 0 || afile__fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Move a regular file to another file system: copy it with its metadata,
 * publish the copy atomically (the writer syncs it and its directory),
 * then remove the source and sync its directory.  A crash in between
 * leaves both names, never neither.
 */
static int
move_across(struct afile__op *op, struct afile__target *s,
    struct afile__target *d, unsigned int flags)
{
	struct afile__meta m;
	int fd, r;

	fd = open_source(op, s->dfd, s->name, false, &m);
	if (fd < 0)
		return fd;
	/*
	 * A rename replaces the destination's name, not its contents:
	 * other hard links to it and a symlink at it are not followed.
	 */
	r = copy_fd(op, fd, &m, d->dfd, d->name,
	    (flags & (AFILE_NOREPLACE | AFILE_OWNER_BEST_EFFORT)) |
		AFILE_NOFOLLOW | AFILE_BREAK_HARDLINKS);
	afile__meta_done(&m);
	afile__close_quiet(fd);
	/*
	 * A copy whose directory sync failed is not known durable: the
	 * source stays (both names), or a power cut could keep neither
	 * (found by simfs-faults, move-across).
	 */
	if (r < 0)
		return r;
	r = afile__unlinkat(s->dfd, s->name, 0);
	if (r < 0)
		return afile__fail_cause(
		    op, AFILE_ESOURCEKEPT, r, "remove source", s->shown);
	r = afile__sync_dir(op, s->dfd);
	if (r < 0)
		return afile__fail_cause(
		    op, AFILE_EUNSYNCED, r, "sync directory", s->shown);
	return 0;
}

static int
rename_names(struct afile__op *op, struct afile__target *s,
    struct afile__target *d, unsigned int flags)
{
	unsigned int rflags = 0;
	int r;

	if (flags & AFILE_NOREPLACE)
		rflags = RENAME_NOREPLACE;
	else if (flags & AFILE_EXCHANGE)
		rflags = RENAME_EXCHANGE;
	r = afile__renameat2(s->dfd, s->name, d->dfd, d->name, rflags);
	if (rflags && (r == -ENOSYS || r == -EINVAL || afile__unsupported(r))) {
		/*
		 * No renameat2 here (old kernel, some FUSE and network file
		 * systems).  An exchange cannot be emulated atomically.  A
		 * no-replace rename can, for files: link fails on an
		 * existing name, then the old name goes.
		 */
		if (flags & AFILE_EXCHANGE || S_ISDIR(s->st.st_mode))
			return afile__fail(op, r == -EINVAL ? r : -ENOTSUP,
			    "rename", s->shown);
		r = afile__linkat(s->dfd, s->name, d->dfd, d->name, 0);
		/*
		 * The new name must be on disk before the old one goes: the
		 * directory sync after both cannot order them, and a power
		 * cut could keep the unlink and lose the link (found by the
		 * simulator, tests/simfs).
		 */
		if (r == 0 && op->sync != AFILE_SYNC_NONE) {
			r = afile__fsync_dir(d->dfd);
			if (r == -EINVAL || afile__unsupported(r))
				r = 0; /* cannot sync: as afile__sync_dir() */
			if (r < 0) {
				(void)afile__unlinkat(d->dfd, d->name, 0);
				return afile__fail(
				    op, r, "sync directory", d->shown);
			}
		}
		if (r == 0) {
			r = afile__unlinkat(s->dfd, s->name, 0);
			if (r < 0) {
				/* Undo, so both names are as they were. */
				if (afile__unlinkat(d->dfd, d->name, 0) < 0)
					return afile__fail_cause(op,
					    AFILE_ESOURCEKEPT, r,
					    "remove source", s->shown);
				return afile__fail(op, r, "rename", s->shown);
			}
		}
	}
	if (r == -EXDEV && !(flags & AFILE_EXCHANGE) && S_ISREG(s->st.st_mode))
		return move_across(op, s, d, flags);
	if (r < 0)
		return afile__fail(
		    op, r, "rename", r == -EEXIST ? d->shown : s->shown);
	/*
	 * The destination's directory first: after a crash between the two
	 * syncs the file then has both names rather than neither.
	 */
	r = afile__sync_dir(op, d->dfd);
	if (r == 0 && !same_dir(s->dfd, d->dfd))
		r = afile__sync_dir(op, s->dfd);
	if (r < 0)
		return afile__fail_cause(
		    op, AFILE_EUNSYNCED, r, "sync directory", d->shown);
	return 0;
}

int
afile_rename(int sdirfd, const char *src, int ddirfd, const char *dst,
    unsigned int flags, const struct afile_opts *opts)
{
	struct afile__target s, d;
	struct afile__op op;
	int lock_fd = -1, r;

	r = afile__op_init(&op, flags,
	    AFILE_NOREPLACE | AFILE_EXCHANGE | AFILE_OWNER_BEST_EFFORT |
		AFILE_LOCK,
	    opts);
	if (r < 0)
		return afile__op_done(&op, r);
	if ((flags & AFILE_NOREPLACE) && (flags & AFILE_EXCHANGE))
		return afile__op_done(
		    &op, afile__fail(&op, -EINVAL, "check flags", src));
	r = afile__target_open(&op, sdirfd, src, false, &s);
	if (r < 0)
		return afile__op_done(&op, r);
	r = afile__target_open(&op, ddirfd, dst, false, &d);
	if (r < 0) {
		afile__target_close(&s);
		return afile__op_done(&op, r);
	}
	if ((flags & AFILE_LOCK) &&
	    (r = afile__target_lock(&op, &d, &lock_fd)) < 0)
		; /* r says why */
	else if (!s.exists)
		r = afile__fail(&op, -ENOENT, "rename", s.shown);
	else if ((flags & AFILE_NOREPLACE) && d.exists)
		r = afile__fail(&op, -EEXIST, "rename", d.shown);
	else if ((flags & AFILE_EXCHANGE) && !d.exists)
		r = afile__fail(&op, -ENOENT, "rename", d.shown);
	else
		r = rename_names(&op, &s, &d, flags);
	afile__close_quiet(lock_fd);
	afile__target_close(&d);
	afile__target_close(&s);
	return afile__op_done(&op, r);
}

/* Fill the writer with the file it replaces, then apply the changes. */
static int
patch_fill(struct afile_writer *w, const struct afile_range *rg, size_t n)
{
	struct afile__op *op = afile__writer_op(w);
	const struct afile__target *t = afile__writer_target(w);
	struct stat st;
	int fd, r;

	/*
	 * The very name the writer resolved and checked, under its shared
	 * lock, so that no in-place patch is half copied.
	 */
	fd =
	    afile__open_shared(op, t->dfd, t->name, AFILE_NOFOLLOW, O_NONBLOCK);
	if (fd < 0)
		return fd;
	r = afile__fstat(fd, &st);
	if (r < 0)
		r = afile__fail(op, r, "read metadata", t->shown);
	if (r == 0)
		r = afile__writer_fill(w, fd, (uint64_t)st.st_size);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = afile__writer_pwrite(w, rg[i].buf, rg[i].len, rg[i].offset);
	afile__close_quiet(fd);
	return r;
}

int
afile__patch_copy(struct afile__op *op, int dirfd, const char *path,
    const struct afile_range *rg, size_t n, unsigned int flags)
{
	struct afile_writer *w;
	int r;

	r = afile__writer_open(
	    op, dirfd, path, flags | AFILE__MUST_EXIST, NULL, &w);
	if (r < 0)
		return r;
	r = patch_fill(w, rg, n);
	return afile__writer_finish(op, w, r);
}
