/* SPDX-License-Identifier: MIT */
/*
 * apply.c - what a commit and a recovery share: the directories of a
 * transaction, opened beneath its root, and the application of journal
 * records.
 *
 * Each directory a transaction names is opened once (struct dirs, txn.h)
 * and reused by every record in it; its flags say which must be synced
 * when (those holding temps before the journal, those the apply touched
 * after it).  A record is applied so that doing it twice is doing it
 * once: a recovery repeats the apply of a commit that a crash cut short.
 *
 * Invariants:
 *   1. Every path acted on is resolved beneath the root: journal paths are
 *      relative without "." or ".." (afile__jpath_ok) and directories are
 *      opened with RESOLVE_BENEATH, or one component at a time with
 *      O_NOFOLLOW where openat2 is missing.
 *   2. Applying is idempotent: a put whose temp is gone was applied; a
 *      remove or rename whose source is gone, or has another inode than
 *      its guard, was applied or is newer data and is left alone.
 *   3. A put's staged temp sits in its target's directory, or the record
 *      is corrupt: the apply never moves a temp to another directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "txn.h"

void
afile__dirs_done(struct dirs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		afile__close_quiet(d->v[i].fd);
		afile__free(d->v[i].rel);
	}
	afile__free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* Open @rel beneath the root (invariant 3). */
static int
open_beneath(int rootfd, const char *rel)
{
	char buf[4096], *comp, *save = NULL;
	int cur, next;

	if (!*rel)
		return afile__openat(rootfd, ".", O_RDONLY | O_DIRECTORY, 0);
	next = afile__openat_beneath(rootfd, rel, O_RDONLY | O_DIRECTORY);
	if (next != -ENOSYS)
		return next;
	if (strlen(rel) >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, strlen(rel) + 1);
	cur = rootfd;
	for (comp = strtok_r(buf, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		next = afile__openat(
		    cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (cur != rootfd)
			afile__close_quiet(cur);
		if (next < 0)
			return next == -ELOOP ? -EXDEV : next;
		cur = next;
	}
	return cur;
}

/*
 * Resolve the directory of @path: *@ret_idx is its index, *@ret_name
 * points at the last component inside @path.
 */
int
afile__dir_of(
    struct dirs *d, const char *path, size_t *ret_idx, const char **ret_name)
{
	const char *slash;
	struct dir *v;
	struct stat st;
	size_t len;
	int fd, r;

	if (!path || !afile__jpath_ok(path))
		return -EINVAL;
	slash = strrchr(path, '/');
	len = slash ? (size_t)(slash - path) : 0;
	*ret_name = slash ? slash + 1 : path;
	if (strlen(*ret_name) > NAME_MAX)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < d->n; i++) {
		if (strlen(d->v[i].rel) == len &&
		    !strncmp(d->v[i].rel, path, len)) {
			*ret_idx = i;
			return 0;
		}
	}
	v = afile__realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	v = &d->v[d->n];
	memset(v, 0, sizeof(*v));
	v->rel = afile__malloc(len + 1);
	if (!v->rel)
		return -ENOMEM;
	memcpy(v->rel, path, len);
	v->rel[len] = '\0';
	fd = open_beneath(d->rootfd, v->rel);
	if (fd < 0) {
		afile__free(v->rel);
		return fd;
	}
	r = afile__fstat(fd, &st);
	if (r < 0) {
		afile__close_quiet(fd);
		afile__free(v->rel);
		return r;
	}
	v->fd = fd;
	v->dev = st.st_dev;
	*ret_idx = d->n++;
	return 0;
}

/* Sync every directory that @pick selects, once each. */
int
afile__sync_dirs(struct afile__op *op, struct dirs *d, bool temps)
{
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		if (!(temps ? d->v[i].temps : d->v[i].touched))
			continue;
		r = afile__sync_dir_lax(op, d->v[i].fd);
		if (r < 0)
			return afile__fail(op, r, "sync directory",
			    *d->v[i].rel ? d->v[i].rel : ".");
	}
	return 0;
}

/* ------------------------------------------------------------------
 * Applying records (commit and recovery share this)
 * ------------------------------------------------------------------ */

/* Same directory part?  Staged temps must sit beside their targets. */
static bool
same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && !strncmp(a, b, la);
}

int
afile__apply_rec(
    struct afile__op *op, struct dirs *d, const struct afile__jrec *rec)
{
	const char *name, *name2;
	size_t i, i2;
	struct stat st;
	int r;

	r = afile__dir_of(d, rec->path, &i, &name);
	if (r < 0)
		return afile__fail(op, r, "open directory", rec->path);
	switch (rec->op) {
	case AFILE__J_PUT:
	case AFILE__J_CREATE:
		if (!same_dir(rec->path, rec->path2))
			return afile__fail(
			    op, AFILE_ECORRUPT, "apply", rec->path);
		name2 = strrchr(rec->path2, '/');
		name2 = name2 ? name2 + 1 : rec->path2;
		r = afile__renameat2(d->v[i].fd, name2, d->v[i].fd, name, 0);
		if (r == -ENOENT) /* the temp is gone: applied already */
			return 0;
		break;
	case AFILE__J_REMOVE:
		r = afile__fstatat(d->v[i].fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r == -ENOENT ||
		    (r == 0 && rec->guard_ino && st.st_ino != rec->guard_ino))
			return 0; /* done, or newer data: leave it */
		if (r == 0)
			r = afile__unlinkat(d->v[i].fd, name, 0);
		if (r == -ENOENT)
			return 0;
		break;
	case AFILE__J_RENAME:
		r = afile__dir_of(d, rec->path2, &i2, &name2);
		if (r < 0)
			return afile__fail(op, r, "open directory", rec->path2);
		r = afile__fstatat(d->v[i].fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r == -ENOENT ||
		    (r == 0 && rec->guard_ino && st.st_ino != rec->guard_ino))
			return 0;
		if (r == 0)
			r = afile__renameat2(
			    d->v[i].fd, name, d->v[i2].fd, name2, 0);
		if (r == 0)
			d->v[i2].touched = true;
		break;
	default:
		return afile__fail(op, AFILE_ECORRUPT, "apply", rec->path);
	}
	if (r < 0)
		return afile__fail(op, r, "apply", rec->path);
	d->v[i].touched = true;
	return 0;
}

/*
 * Step 5: retire the journal and the intent log; durably with @sync
 * (see afile__retire() in txn.h for when the sync may wait).
 */
int
afile__retire(struct afile__op *op, int adfd, bool sync)
{
	int r;

	r = afile__unlinkat(adfd, JOURNAL, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" JOURNAL);
	r = afile__unlinkat(adfd, INTENT, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" INTENT);
	if (!sync || op->sync == AFILE_SYNC_NONE)
		return 0;
	r = afile__sync_dir_lax(op, adfd);
	if (r < 0)
		return afile__fail(op, r, "sync directory", ADIR);
	return 0;
}

/*
 * In a sticky directory, a .atomicfile/ that another user made is not
 * trusted: its owner could write a journal that this caller's recovery
 * would apply (path.c, afile__check_planted).
 */
static int
adir_trusted(struct afile__op *op, int rootfd, int fd)
{
	struct stat st;
	int r;

	r = afile__fstat(fd, &st);
	if (r < 0)
		r = afile__fail(op, r, "check directory", ADIR);
	else
		r = afile__check_planted(op, rootfd, &st, ADIR);
	if (r < 0) {
		afile__close_quiet(fd);
		return r;
	}
	return fd;
}

/* Open (creating with @create) ROOT/.atomicfile/. */
int
afile__open_adir(struct afile__op *op, int rootfd, bool create)
{
	int fd, r;

	fd =
	    afile__openat(rootfd, ADIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd >= 0)
		return adir_trusted(op, rootfd, fd);
	if (fd != -ENOENT || !create)
		return fd < 0 && fd != -ENOENT
		    ? afile__fail(op, fd, "open directory", ADIR)
		    : fd;
	r = afile__mkdirat(rootfd, ADIR, 0755);
	if (r < 0 && r != -EEXIST)
		return afile__fail(op, r, "create directory", ADIR);
	/* Its name must be durable before a journal relies on it. */
	if (r == 0 && op->sync != AFILE_SYNC_NONE) {
		r = afile__sync_dir_lax(op, rootfd);
		if (r < 0)
			return afile__fail(op, r, "sync directory", ".");
	}
	fd =
	    afile__openat(rootfd, ADIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return afile__fail(op, fd, "open directory", ADIR);
	return adir_trusted(op, rootfd, fd);
}
