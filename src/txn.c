/* SPDX-License-Identifier: MIT */
/*
 * txn.c - multi-file transactions, their recovery, and batches.
 *
 * Protocol (a redo log with shadow files; format in journal.c):
 *
 *   begin   lock ROOT/.atomicfile/.txn.afile-lock (serializes
 *           transactions of the root); recover what a crash left.
 *   stage   every new content goes to a temp beside its target, named
 *           ".NAME.XXXXXXXXXXXX.afile-txn", written and given its final
 *           metadata.  Each directory a temp goes into is named in
 *           .atomicfile/intent, durably, before the first temp is created
 *           there, so that a rollback can always find them.
 *   commit  1. sync the temps in one batch (syncfs per file system) and
 *              each of their directories once;
 *           2. check creates (target absent) and removes and renames
 *              (source present; its inode number becomes the record's
 *              guard);
 *           3. write .atomicfile/journal, sync it and .atomicfile/:
 *              THE COMMIT POINT;
 *           4. under .atomicfile/.apply.afile-lock (exclusive; snapshot
 *              readers hold it shared), apply the records in order, sync
 *              every touched directory once;
 *           5. retire: unlink journal and intent, sync .atomicfile/.
 *   recover a valid journal: redo 4 and 5 (idempotent: a put whose temp
 *           is gone was applied; a remove or rename whose source is gone,
 *           or has another inode than its guard, was applied or is newer
 *           data and is left alone).  No or an invalid journal: roll back,
 *           retiring the journal first and then removing the temps named
 *           by the intent log and the journal's readable records, so that
 *           a crash during the rollback repeats it; the intent log goes
 *           last, once the removals are synced.  An invalid journal
 *           one of whose staged temps is already gone was not torn but
 *           damaged after its apply began: AFILE_ECORRUPT, nothing done.
 *
 * Invariants:
 *   1. Nothing visible changes before the commit point; every staged
 *      temp and the journal are durable at it (step 1 before step 3).
 *   2. The journal is retired only after every touched directory is
 *      synced (step 4 before 5), and the next transaction of the root
 *      starts only after that: an old journal can never come back and be
 *      replayed over newer data.  The inode guards are a second line.
 *   3. Every path acted on is resolved beneath the root: journal paths
 *      are relative without "." or ".." (afile__jpath_ok) and directories
 *      are opened with RESOLVE_BENEATH, or one component at a time with
 *      O_NOFOLLOW where openat2 is missing.
 *   4. Staged temps use their own suffix: the lock-based sweepers never
 *      touch them, since after a crash past the commit point they are
 *      unlocked and still needed.  Only recovery removes them.
 *
 * State diagram: begin --> OPEN --stage--> OPEN --commit--> DONE;
 * a failed stage makes it POISONED (commit fails, changes nothing);
 * free from any state rolls back what was not committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "journal.h"

#define ADIR       ".atomicfile"
#define JOURNAL    "journal"
#define INTENT     "intent"
#define TXN_LOCK   "txn"
#define APPLY_LOCK "apply"
#define BATCH_MIN  16
#define BATCH_MAX  4096

enum tstate { T_OPEN, T_POISONED, T_DONE };

/* ------------------------------------------------------------------
 * Directories beneath the root, opened once each
 * ------------------------------------------------------------------ */

struct dir {
	char *rel; /* "" for the root itself */
	int fd;
	dev_t dev;
	bool temps;   /* holds staged temps: synced before the journal */
	bool logged;  /* named in the intent log */
	bool touched; /* changed by the apply: synced after it */
};

struct dirs {
	int rootfd;
	struct dir *v;
	size_t n;
};

static void
dirs_done(struct dirs *d)
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
static int
dir_of(struct dirs *d, const char *path, size_t *ret_idx, const char **ret_name)
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
static int
sync_dirs(struct afile__op *op, struct dirs *d, bool temps)
{
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		if (!(temps ? d->v[i].temps : d->v[i].touched))
			continue;
		r = afile__fsync_dir(d->v[i].fd);
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

static int
apply_rec(struct afile__op *op, struct dirs *d, const struct afile__jrec *rec)
{
	const char *name, *name2;
	size_t i, i2;
	struct stat st;
	int r;

	r = dir_of(d, rec->path, &i, &name);
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
		r = dir_of(d, rec->path2, &i2, &name2);
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

/* Step 5: retire the journal and the intent log durably. */
static int
retire(struct afile__op *op, int adfd)
{
	int r;

	r = afile__unlinkat(adfd, JOURNAL, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" JOURNAL);
	r = afile__unlinkat(adfd, INTENT, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" INTENT);
	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	r = afile__fsync_dir(adfd);
	if (r < 0)
		return afile__fail(op, r, "sync directory", ADIR);
	return 0;
}

/* ------------------------------------------------------------------
 * Recovery
 * ------------------------------------------------------------------ */

/* Read a whole file of .atomicfile/, or -ENOENT. */
static int
read_meta_file(int adfd, const char *name, char **ret_buf, size_t *ret_len)
{
	int fd, r;

	fd = afile__openat(adfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
	if (fd < 0)
		return fd;
	r = afile__read_fd(fd, ret_buf, ret_len);
	afile__close_quiet(fd);
	return r;
}

/* Is @path a staged temp of some transaction? */
static bool
is_staged(const char *path)
{
	size_t len = strlen(path), sl = sizeof(AFILE__TXN_SUFFIX) - 1;

	return afile__jpath_ok(path) && len > sl &&
	    !strcmp(path + len - sl, AFILE__TXN_SUFFIX);
}

static void
remove_staged(struct dirs *d, const char *path, uint64_t *count)
{
	const char *name;
	size_t i;

	if (is_staged(path) && dir_of(d, path, &i, &name) == 0 &&
	    afile__unlinkat(d->v[i].fd, name, 0) == 0)
		(*count)++;
}

/*
 * The intent log: "#TAG" (the tag in every staged temp's name), one
 * "DIR/" line per directory staged into ("/" for the root), and "=N", the
 * number of staged temps, written just before the journal.
 */
struct intent {
	char *buf;
	char tag[7];
	long staged; /* -1: unknown */
	char **dirs;
	size_t ndirs;
};

static void
intent_done(struct intent *in)
{
	afile__free(in->dirs);
	afile__free(in->buf);
}

static int
read_intent(int adfd, struct intent *in)
{
	char *line, *save = NULL;
	size_t len;
	int r;

	memset(in, 0, sizeof(*in));
	in->staged = -1;
	r = read_meta_file(adfd, INTENT, &in->buf, &len);
	if (r < 0)
		return r;
	for (line = strtok_r(in->buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t ll = strlen(line);

		if (line[0] == '#' && ll == 7)
			memcpy(in->tag, line + 1, 7);
		else if (line[0] == '=')
			in->staged = strtol(line + 1, NULL, 10);
		else if (ll && line[ll - 1] == '/') {
			char **v = afile__realloc(
			    in->dirs, (in->ndirs + 1) * sizeof(*v));

			if (!v) {
				intent_done(in);
				return -ENOMEM;
			}
			in->dirs = v;
			in->dirs[in->ndirs++] = line;
		}
	}
	return 0;
}

/*
 * Count or remove the tagged temps in the logged directories, adding to
 * *@found.  A directory that is gone holds none; any other failure is
 * returned (after trying the other directories), so that a rollback
 * keeps the intent log for the next recovery.
 */
static int
find_logged(
    struct dirs *d, const struct intent *in, bool remove, uint64_t *found)
{
	char probe[4096 + 4];
	const char *name;
	size_t i;
	int err = 0, r;

	for (size_t k = 0; in->tag[0] && k < in->ndirs; k++) {
		size_t len = strlen(in->dirs[k]) - 1; /* without the '/' */

		/* dir_of() resolves a file's directory: ask for a child. */
		if (snprintf(probe, sizeof(probe), "%.*s%sx", (int)len,
			in->dirs[k], len ? "/" : "") >= (int)sizeof(probe))
			continue;
		r = dir_of(d, probe, &i, &name);
		if (r == 0)
			r = afile__find_tagged(
			    d->v[i].fd, in->tag, remove, found);
		if (r < 0 && r != -ENOENT && !err)
			err = r;
	}
	return err;
}

/*
 * Roll back: first the journal goes (durably), so that a crash from here
 * on finds no journal and rolls back again from the intent log alone;
 * then the staged temps: those the journal's readable records name, and
 * every temp carrying the transaction's tag in the directories the intent
 * log names; the intent log last.
 */
static int
rollback(struct afile__op *op, struct dirs *d, int adfd,
    const struct afile__journal *j, struct afile_recover_report *rep)
{
	struct intent in;
	uint64_t before;
	int r;

	r = afile__unlinkat(adfd, JOURNAL, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" JOURNAL);
	if (r == 0 && op->sync != AFILE_SYNC_NONE) {
		r = afile__fsync_dir(adfd);
		if (r < 0)
			return afile__fail(op, r, "sync directory", ADIR);
	}
	r = read_intent(adfd, &in);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "read", ADIR "/" INTENT);
	before = rep->temps_removed;
	for (size_t k = 0; j && k < j->nrec; k++)
		if (j->recs[k].op == AFILE__J_PUT ||
		    j->recs[k].op == AFILE__J_CREATE)
			remove_staged(d, j->recs[k].path2, &rep->temps_removed);
	r = find_logged(d, &in, true, &rep->temps_removed);
	intent_done(&in);
	if (r < 0)
		return afile__fail(
		    op, r, "remove staged temps", ADIR "/" INTENT);
	/*
	 * The removals are durable before the intent log goes: a temp that
	 * came back after a power cut without the log naming it would leak.
	 */
	for (size_t i = 0; i < d->n && rep->temps_removed > before &&
	     op->sync != AFILE_SYNC_NONE;
	     i++) {
		r = afile__fsync_dir(d->v[i].fd);
		if (r < 0)
			return afile__fail(op, r, "sync directory",
			    d->v[i].rel[0] ? d->v[i].rel : ".");
	}
	r = afile__unlinkat(adfd, INTENT, 0);
	if (r < 0 && r != -ENOENT)
		return afile__fail(op, r, "retire journal", ADIR "/" INTENT);
	return 0;
}

/* Is the staged temp @path still there?  1, 0, or an error. */
static int
staged_present(struct dirs *d, const char *path)
{
	const char *name;
	struct stat st;
	size_t i;
	int r;

	r = dir_of(d, path, &i, &name);
	if (r == 0)
		r = afile__fstatat(d->v[i].fd, name, &st, AT_SYMLINK_NOFOLLOW);
	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

/*
 * Are all staged temps of an invalid journal still there?  Then it was
 * torn, never committed.  The records that could be read name theirs;
 * the intent log's count covers the rest, even when the damage hid every
 * record (the count is not synced: after a power cut it may be missing,
 * and then only the records speak; see docs/FORMAT.md).
 */
static int
temps_intact(struct dirs *d, int adfd, const struct afile__journal *j)
{
	struct intent in;
	uint64_t found = 0;
	int ok = 1;

	for (size_t k = 0; k < j->nrec && ok == 1; k++)
		if (j->recs[k].op == AFILE__J_PUT ||
		    j->recs[k].op == AFILE__J_CREATE)
			ok = staged_present(d, j->recs[k].path2);
	if (ok == 1 && read_intent(adfd, &in) == 0) {
		if (in.staged >= 0) {
			int r = find_logged(d, &in, false, &found);

			ok = r < 0 ? r : found >= (uint64_t)in.staged;
		}
		intent_done(&in);
	}
	return ok;
}

static int
redo(struct afile__op *op, struct dirs *d, int adfd,
    const struct afile__journal *j)
{
	int r = 0;

	for (size_t k = 0; k < j->nrec && r == 0; k++)
		r = apply_rec(op, d, &j->recs[k]);
	if (r == 0)
		r = sync_dirs(op, d, false);
	if (r == 0)
		r = retire(op, adfd);
	return r;
}

/*
 * Recover the root whose .atomicfile/ is @adfd; the caller holds the
 * transaction lock.  Takes the apply lock for the redo.
 */
static int
recover_locked(struct afile__op *op, int rootfd, int adfd,
    struct afile_recover_report *rep)
{
	struct afile__journal j = {0};
	struct dirs d = {.rootfd = rootfd};
	int apply_fd = -1, r;
	char *buf = NULL;

	size_t len;

	rep->action = AFILE_RECOVER_NONE;
	r = read_meta_file(adfd, JOURNAL, &buf, &len);
	if (r == -ENOENT) {
		/* No commit point reached: undo what staging left. */
		r = read_meta_file(adfd, INTENT, &buf, &len);
		afile__free(buf);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return afile__fail(op, r, "read", ADIR "/" INTENT);
		r = rollback(op, &d, adfd, NULL, rep);
		rep->action = AFILE_RECOVER_ROLLED_BACK;
		goto out;
	}
	if (r < 0)
		return afile__fail(op, r, "read journal", ADIR "/" JOURNAL);
	r = afile__journal_decode(buf, len, &j);
	afile__free(buf);
	if (r == -ENOMEM)
		goto out;
	rep->txn_id = j.txn_id;
	rep->records = j.nrec;
	r = afile__lock_name(
	    op, adfd, APPLY_LOCK, ADIR, AFILE_LOCK_EXCLUSIVE, -1, &apply_fd);
	if (r < 0)
		goto out;
	if (j.valid) {
		r = redo(op, &d, adfd, &j);
		if (r == 0) {
			rep->action = AFILE_RECOVER_REDONE;
			afile__stat_add(AFILE__STAT_RECOVERIES, 1);
		}
	} else if ((r = temps_intact(&d, adfd, &j)) < 0) {
		/* Could not tell torn from damaged: decide nothing now. */
		r = afile__fail(op, r, "check journal", ADIR "/" JOURNAL);
	} else if (r == 1) {
		r = rollback(op, &d, adfd, &j, rep);
		rep->action = AFILE_RECOVER_ROLLED_BACK;
	} else {
		rep->action = AFILE_RECOVER_CORRUPT;
		r = afile__fail(
		    op, AFILE_ECORRUPT, "check journal", ADIR "/" JOURNAL);
	}
out:
	if (r == 0 && rep->action == AFILE_RECOVER_ROLLED_BACK)
		afile__stat_add(AFILE__STAT_RECOVERIES, 1);
	afile__close_quiet(apply_fd);
	afile__journal_done(&j);
	dirs_done(&d);
	return r;
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
static int
open_adir(struct afile__op *op, int rootfd, bool create)
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
		r = afile__fsync_dir(rootfd);
		if (r < 0)
			return afile__fail(op, r, "sync directory", ".");
	}
	fd =
	    afile__openat(rootfd, ADIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0)
		return afile__fail(op, fd, "open directory", ADIR);
	return adir_trusted(op, rootfd, fd);
}

int
afile_recover(int rootfd, const char *root, unsigned int flags,
    struct afile_recover_report *report)
{
	struct afile_recover_report local = {.size = sizeof(local)};
	struct afile_recover_report *rep = report ? report : &local;
	struct afile__op op;
	int rfd = -1, adfd = -1, lock = -1, r;

	r = afile__op_init(&op, flags, 0, NULL);
	if (r == 0 &&
	    (!root || !*root || (report && report->size != sizeof(*report))))
		r = -EINVAL;
	if (r < 0)
		return afile__op_done(&op, r);
	rep->action = AFILE_RECOVER_NONE;
	rep->txn_id = rep->records = rep->temps_removed = 0;
	rfd = afile__openat(rootfd, root, O_RDONLY | O_DIRECTORY, 0);
	if (rfd < 0)
		return afile__op_done(
		    &op, afile__fail(&op, rfd, "open root", root));
	adfd = open_adir(&op, rfd, false);
	if (adfd == -ENOENT) {
		r = 0; /* never used for transactions */
		goto out;
	}
	if (adfd < 0) {
		r = adfd;
		goto out;
	}
	r = afile__lock_name(
	    &op, adfd, TXN_LOCK, ADIR, AFILE_LOCK_EXCLUSIVE, -1, &lock);
	if (r == 0)
		r = recover_locked(&op, rfd, adfd, rep);
out:
	afile__close_quiet(lock);
	afile__close_quiet(adfd);
	afile__close_quiet(rfd);
	return afile__op_done(&op, r);
}

int
afile__recover_if_hot(struct afile__op *op, int dirfd)
{
	struct afile_recover_report rep = {.size = sizeof(rep)};
	struct afile__op probe;
	struct stat st;
	int adfd, lock = -1, r;

	/*
	 * One stat on the fast path: no journal, nothing to do; nor when
	 * this caller may not look (it could not recover either: a reader
	 * without access to .atomicfile/ reads what is there).  Any other
	 * failure could hide a committed transaction: report it.
	 */
	r = afile__fstatat(dirfd, ADIR "/" JOURNAL, &st, AT_SYMLINK_NOFOLLOW);
	if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
		return 0;
	if (r < 0)
		return afile__fail(op, r, "stat", ADIR "/" JOURNAL);
	/*
	 * A live transaction owns its journal: it is not hot.  The probe has
	 * no error detail of its own: "busy" is no failure of the read, and
	 * a read that succeeds leaves the caller's errinfo untouched.  Nor
	 * is a .atomicfile/ that another user planted in a sticky directory
	 * replayed: the reader reads what is there.
	 */
	probe = *op;
	probe.err = NULL;
	adfd = open_adir(&probe, dirfd, false);
	if (adfd == -ENOENT || adfd == AFILE_EPROTECTED)
		return 0;
	if (adfd < 0)
		return afile__fail(op, adfd, "open directory", ADIR);
	r = afile__lock_name(
	    &probe, adfd, TXN_LOCK, ADIR, AFILE_LOCK_EXCLUSIVE, 0, &lock);
	if (r == -EAGAIN) {
		r = 0;
	} else if (r < 0) {
		r = afile__fail(op, r, "lock", ADIR);
	} else {
		r = recover_locked(op, dirfd, adfd, &rep);
	}
	afile__close_quiet(lock);
	afile__close_quiet(adfd);
	return r;
}

int
afile_txn_snapshot(
    int rootfd, const char *root, int timeout_ms, struct afile_lock **ret_lock)
{
	struct afile__op op;
	int rfd, adfd = -1, fd = -1, r;

	if (ret_lock)
		*ret_lock = NULL;
	r = afile__op_init(&op, 0, 0, NULL);
	if (r == 0 && (!ret_lock || !root || !*root || timeout_ms < -1))
		r = -EINVAL;
	if (r < 0)
		return afile__op_done(&op, r);
	rfd = afile__openat(rootfd, root, O_RDONLY | O_DIRECTORY, 0);
	if (rfd < 0)
		return afile__op_done(
		    &op, afile__fail(&op, rfd, "open root", root));
	r = afile__recover_if_hot(&op, rfd);
	if (r == 0)
		r = adfd = open_adir(&op, rfd, true);
	if (r >= 0)
		r = afile__lock_name(&op, adfd, APPLY_LOCK, ADIR,
		    AFILE_LOCK_SHARED, timeout_ms, &fd);
	if (r >= 0)
		r = afile__lock_wrap(fd, ret_lock);
	if (r < 0)
		afile__close_quiet(fd);
	afile__close_quiet(adfd);
	afile__close_quiet(rfd);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return r;
	return afile__op_done(&op, r < 0 ? r : 0);
}

/* ------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------ */

struct top {
	unsigned int op;
	char *path;
	char *path2;           /* staged temp (put, create), or rename's to */
	struct afile__tmp tmp; /* put, create: open, locked until the end */
	size_t dir;            /* put, create: the directory of both */
	struct afile_writer *pending; /* afile_txn_writer() not committed */
	uint64_t guard;
};

struct afile_txn {
	enum tstate state;
	bool committed;   /* the journal was written: its temps are its own */
	bool unstaged;    /* the temps were taken back (see unstage()) */
	bool keep_intent; /* ...not durably: recovery needs the intent log */
	struct afile__op op;
	int adfd, lock, intent;
	struct dirs d;
	struct top *ops;
	size_t nops;
	uint64_t id;
	char tag[7];      /* in every staged temp's name: see stage_name() */
	uint64_t counter; /* makes the staged names distinct */
};

static char *
dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = afile__malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Append an operation; its strings are copied. */
static int
add_op(struct afile_txn *t, unsigned int opc, const char *path,
    const char *path2, struct top **ret)
{
	struct top *v = afile__realloc(t->ops, (t->nops + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->ops = v;
	v = &t->ops[t->nops];
	memset(v, 0, sizeof(*v));
	v->tmp.fd = -1;
	v->tmp.slot = -1;
	v->op = opc;
	v->path = dup_str(path);
	v->path2 = path2 ? dup_str(path2) : NULL;
	if (!v->path || (path2 && !v->path2)) {
		afile__free(v->path);
		afile__free(v->path2);
		return -ENOMEM;
	}
	t->nops++;
	if (ret)
		*ret = v;
	return 0;
}

static void
drop_last_op(struct afile_txn *t)
{
	struct top *v = &t->ops[--t->nops];

	afile__free(v->path);
	afile__free(v->path2);
}

static int
poison_txn(struct afile_txn *t, int r)
{
	t->state = T_POISONED;
	return r;
}

static int
check_txn(struct afile_txn *t)
{
	if (!t || t->state == T_DONE)
		return -EINVAL;
	return t->state == T_POISONED ? AFILE_EPOISONED : 0;
}

static int stage_name(void *ctx, const char *target, char *out);

int
afile_txn_begin(int rootfd, const char *root, unsigned int flags,
    const struct afile_opts *opts, struct afile_txn **ret_txn)
{
	struct afile_recover_report rep = {.size = sizeof(rep)};
	struct afile_txn *t;
	struct afile__op op;
	int r;

	if (ret_txn)
		*ret_txn = NULL;
	r = afile__op_init(&op, flags, 0, opts);
	if (r == 0 && (!ret_txn || !root || !*root))
		r = afile__fail(&op, -EINVAL, "check arguments", root);
	if (r < 0)
		return afile__op_done(&op, r);
	t = afile__malloc(sizeof(*t));
	if (!t)
		return afile__op_done(&op, -ENOMEM);
	memset(t, 0, sizeof(*t));
	t->adfd = t->lock = t->intent = -1;
	t->op = op;
	/* Transactions sync fully or not at all: see afile_opts. */
	if (t->op.sync == AFILE_SYNC_DATA)
		t->op.sync = AFILE_SYNC_FULL;
	t->d.rootfd = afile__openat(rootfd, root, O_RDONLY | O_DIRECTORY, 0);
	if (t->d.rootfd < 0) {
		r = afile__fail(&t->op, t->d.rootfd, "open root", root);
		goto fail;
	}
	r = t->adfd = open_adir(&t->op, t->d.rootfd, true);
	if (r >= 0)
		r = afile__lock_name(&t->op, t->adfd, TXN_LOCK, ADIR,
		    AFILE_LOCK_EXCLUSIVE, afile__wait_ms(&t->op), &t->lock);
	if (r >= 0)
		r = recover_locked(&t->op, t->d.rootfd, t->adfd, &rep);
	if (r < 0)
		goto fail;
	(void)afile__op_euid(&t->op); /* once, for all the staged files */
	t->op.stage_name = stage_name;
	t->op.stage_ctx = t;
	if (afile__random(&t->id, sizeof(t->id)) < 0)
		t->id = afile__now_ns();
	afile__name_chars(t->id, t->tag, 6);
	t->tag[6] = '\0';
	*ret_txn = t;
	return afile__op_done(&t->op, 0);
fail:
	op = t->op;
	t->state = T_DONE;
	afile_txn_free(t);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return r;
	return afile__op_done(&op, r);
}

/* Append a line to the intent log, creating it on first use. */
static int
intent_append(struct afile_txn *t, const char *line, size_t len)
{
	char head[9];
	int r;

	if (t->intent < 0) {
		t->intent = afile__openat(t->adfd, INTENT,
		    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW, 0600);
		if (t->intent < 0)
			return t->intent;
		/* First line: the tag that every staged temp's name carries. */
		head[0] = '#';
		memcpy(head + 1, t->tag, 6);
		head[7] = '\n';
		r = afile__write_all(t->intent, head, 8);
		if (r < 0)
			return r;
	}
	return afile__write_all(t->intent, line, len);
}

/*
 * Log a directory before anything is staged in it ("sub/", or "/" for
 * the root): a rollback removes the staged temps with this transaction's
 * tag from every logged directory, even those whose journal record was
 * never written.  One write per directory, none per file.
 *
 * The line is durable before the first temp is created in that
 * directory: a file system may persist the temp's name at any moment (a
 * journal commit, writeback), and a name that outlives a power cut
 * while the line naming its directory does not would leak forever, since
 * only recovery removes staged temps (the simulator found this).  The
 * cost is one fdatasync per directory per transaction, plus one sync of
 * .atomicfile/ for the log's own name.
 */
static int
log_dir(struct afile_txn *t, size_t i)
{
	bool created = t->intent < 0;
	char line[4096 + 2];
	int n, r;

	if (t->d.v[i].logged)
		return 0;
	n = snprintf(line, sizeof(line), "%s/\n", t->d.v[i].rel);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	r = intent_append(t, line, (size_t)n);
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync(t->intent, true);
	if (r == 0 && created && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync_dir(t->adfd);
	if (r == 0)
		t->d.v[i].logged = true;
	return r;
}

/*
 * Names of staged temps: ".TARGET.TTTTTTCCCCCC.afile-txn", TTTTTT the
 * transaction's tag (from its random id), CCCCCC a counter.  No
 * getrandom and no log line per file; O_EXCL refuses a collision and the
 * counter moves on.
 */
static int
stage_name(void *ctx, const char *target, char *out)
{
	struct afile_txn *t = ctx;
	char tail[1 + 12 + sizeof(AFILE__TXN_SUFFIX)];

	tail[0] = '.';
	memcpy(tail + 1, t->tag, 6);
	afile__name_chars(t->counter++, tail + 7, 6);
	memcpy(tail + 13, AFILE__TXN_SUFFIX, sizeof(AFILE__TXN_SUFFIX));
	return afile__hidden_name(target, tail, out);
}

/* Hand a prepared writer's temp to operation @v. */
static int
stage(struct afile_txn *t, struct top *v, struct afile_writer *w)
{
	const char *slash = strrchr(v->path, '/');
	size_t dl = slash ? (size_t)(slash - v->path) + 1 : 0;
	char line[4096 + NAME_MAX + 2];
	int r, n;

	v->pending = NULL;
	r = afile__writer_stage(w, &v->tmp);
	if (r < 0)
		return r;
	n = snprintf(
	    line, sizeof(line), "%.*s%s", (int)dl, v->path, v->tmp.name);
	afile__free(v->path2);
	v->path2 = n > 0 && (size_t)n < sizeof(line) ? dup_str(line) : NULL;
	if (!v->path2) {
		/* The operation is dropped: its temp must go with it. */
		afile__tmp_discard(t->d.v[v->dir].fd, &v->tmp);
		return n > 0 && (size_t)n < sizeof(line) ? -ENOMEM
							 : -ENAMETOOLONG;
	}
	return 0;
}

/* Open a writer for @path in its directory beneath the root. */
static int
open_writer(struct afile_txn *t, const char *path, unsigned int flags,
    struct afile_writer **ret, size_t *ret_dir)
{
	const char *name;
	int r;

	r = dir_of(&t->d, path, ret_dir, &name);
	if (r < 0)
		return afile__fail(&t->op, r, "open directory", path);
	r = log_dir(t, *ret_dir);
	if (r < 0)
		return afile__fail(&t->op, r, "log intent", ADIR "/" INTENT);
	return afile__writer_open(&t->op, t->d.v[*ret_dir].fd, name,
	    flags | AFILE__AT | AFILE__NO_SWEEP, NULL, ret);
}

static int
put(struct afile_txn *t, unsigned int opc, const char *path, const void *buf,
    size_t len, unsigned int flags)
{
	struct afile_writer *w = NULL;
	struct top *v;
	size_t dir;
	int r = check_txn(t);

	if (r < 0)
		return r;
	if ((flags & ~(AFILE_BREAK_HARDLINKS | AFILE_OWNER_BEST_EFFORT)) ||
	    (!buf && len))
		return poison_txn(t, -EINVAL);
	r = open_writer(t, path, flags, &w, &dir);
	if (r == 0)
		r = afile_writer_write(w, buf, len);
	if (r == 0)
		r = add_op(t, opc, path, NULL, &v);
	if (r == 0) {
		v->dir = dir;
		r = stage(t, v, w);
		if (r < 0)
			drop_last_op(t);
	}
	if (w && r < 0 && afile__writer_op(w)->failed)
		t->op.failed = true; /* the writer named the failing step */
	afile_writer_free(w);
	if (r < 0)
		return poison_txn(t, r);
	t->d.v[dir].temps = true;
	return 0;
}

int
afile_txn_put(struct afile_txn *txn, const char *path, const void *buf,
    size_t len, unsigned int flags)
{
	return put(txn, AFILE__J_PUT, path, buf, len, flags);
}

int
afile_txn_create(struct afile_txn *txn, const char *path, const void *buf,
    size_t len, unsigned int flags)
{
	return put(txn, AFILE__J_CREATE, path, buf, len, flags);
}

int
afile_txn_writer(struct afile_txn *txn, const char *path, unsigned int flags,
    struct afile_writer **ret_writer)
{
	struct afile_writer *w = NULL;
	struct top *v;
	size_t dir;
	int r = check_txn(txn);

	if (ret_writer)
		*ret_writer = NULL;
	if (r < 0)
		return r;
	if (!ret_writer ||
	    (flags &
		~(AFILE_BREAK_HARDLINKS | AFILE_OWNER_BEST_EFFORT |
		    AFILE_NOREPLACE)))
		return poison_txn(txn, -EINVAL);
	/* AFILE_NOREPLACE streams a create: the writer refuses early too. */
	r = open_writer(txn, path, flags, &w, &dir);
	if (r == 0)
		r = add_op(txn,
		    (flags & AFILE_NOREPLACE) ? AFILE__J_CREATE : AFILE__J_PUT,
		    path, NULL, &v);
	if (r < 0) {
		afile_writer_free(w);
		return poison_txn(txn, r);
	}
	v->dir = dir;
	v->pending = w;
	afile__writer_set_txn(w, txn);
	*ret_writer = w;
	return 0;
}

int
afile__txn_stage_writer(struct afile_txn *t, struct afile_writer *w)
{
	for (size_t k = 0; k < t->nops; k++) {
		struct top *v = &t->ops[k];
		int r;

		if (v->pending != w)
			continue;
		afile__writer_set_txn(w, NULL);
		r = stage(t, v, w);
		if (r < 0)
			return poison_txn(t, r);
		t->d.v[v->dir].temps = true;
		return 0;
	}
	return -EINVAL;
}

void
afile__txn_drop_writer(struct afile_txn *t, struct afile_writer *w)
{
	/* Freed without a commit: that put is abandoned, and so is the txn. */
	for (size_t k = 0; k < t->nops; k++)
		if (t->ops[k].pending == w) {
			t->ops[k].pending = NULL;
			t->state = t->state == T_OPEN ? T_POISONED : t->state;
		}
}

int
afile_txn_remove(struct afile_txn *txn, const char *path, unsigned int flags)
{
	int r = check_txn(txn);

	if (r < 0)
		return r;
	if (flags || !path || !afile__jpath_ok(path))
		return poison_txn(txn, -EINVAL);
	r = add_op(txn, AFILE__J_REMOVE, path, "", NULL);
	return r < 0 ? poison_txn(txn, r) : 0;
}

int
afile_txn_rename(
    struct afile_txn *txn, const char *from, const char *to, unsigned int flags)
{
	int r = check_txn(txn);

	if (r < 0)
		return r;
	if (flags || !from || !to || !afile__jpath_ok(from) ||
	    !afile__jpath_ok(to))
		return poison_txn(txn, -EINVAL);
	r = add_op(txn, AFILE__J_RENAME, from, to, NULL);
	return r < 0 ? poison_txn(txn, r) : 0;
}

/*
 * Batched syncs: one syncfs per file system makes every file written on
 * it durable with a single journal commit, where an fsync per file costs
 * one each (bench/bench_batch.c: 1000 temps, 16 ms against 454 ms; 86 ms
 * with 16 threads, 148 ms with io_uring).  syncfs also reports write-back
 * errors of the file system since the descriptor was opened (Linux 5.8),
 * and it writes back the directories too.  Files spread over more than 8
 * file systems, or a kernel without syncfs, get an fsync each (@each).
 */
struct fs_syncs {
	dev_t dev[8];
	size_t n;
	bool each;
};

static int
fs_sync(struct fs_syncs *fs, int fd, dev_t dev)
{
	int r;

	if (fs->each)
		return 0;
	for (size_t k = 0; k < fs->n; k++)
		if (fs->dev[k] == dev)
			return 0;
	if (fs->n == sizeof(fs->dev) / sizeof(fs->dev[0])) {
		fs->each = true;
		return 0;
	}
	r = afile__syncfs(fd);
	if (r == -ENOSYS) {
		fs->each = true;
		return 0;
	}
	if (r == 0)
		fs->dev[fs->n++] = dev;
	return r;
}

/* Step 1: the staged temps and their directories, durable. */
static int
sync_staged(struct afile_txn *t)
{
	struct afile__op *op = &t->op;
	struct fs_syncs fs = {.n = 0};
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t i = 0; i < t->d.n; i++) {
		if (!t->d.v[i].temps)
			continue;
		r = fs_sync(&fs, t->d.v[i].fd, t->d.v[i].dev);
		if (r < 0)
			return afile__fail(op, r, "sync staged files", ".");
	}
	if (!fs.each)
		return 0; /* syncfs wrote the temps' directories back too */
	for (size_t k = 0; k < t->nops; k++) {
		if (t->ops[k].tmp.fd < 0)
			continue;
		r = afile__fsync(t->ops[k].tmp.fd, false);
		if (r < 0)
			return afile__fail(
			    op, r, "sync staged files", t->ops[k].path);
	}
	return sync_dirs(op, &t->d, true);
}

/* Did an earlier operation of this transaction produce or drop @path? */
static bool
touched_before(const struct afile_txn *t, size_t upto, const char *path)
{
	for (size_t k = 0; k < upto; k++) {
		const struct top *v = &t->ops[k];

		if (!strcmp(v->path, path) ||
		    (v->op == AFILE__J_RENAME && !strcmp(v->path2, path)))
			return true;
	}
	return false;
}

/*
 * Step 2: everything the apply will do must be possible now, for a
 * failure after the commit point would leave a journal that no recovery
 * can finish: every directory opens, creates find no file, removes and
 * renames find their source (its inode becomes the guard) and no
 * directory in the way, and a rename stays on one file system.
 */
static int
precheck(struct afile_txn *t)
{
	const char *name, *name2;
	struct stat st, st2;
	size_t i, i2;
	int r;

	for (size_t k = 0; k < t->nops; k++) {
		struct top *v = &t->ops[k];
		bool earlier = touched_before(t, k, v->path);

		r = dir_of(&t->d, v->path, &i, &name);
		if (r == 0 && v->op == AFILE__J_RENAME)
			r = dir_of(&t->d, v->path2, &i2, &name2);
		if (r < 0)
			return afile__fail(&t->op, r, "open directory",
			    v->op == AFILE__J_RENAME ? v->path2 : v->path);
		if (v->op == AFILE__J_RENAME && t->d.v[i].dev != t->d.v[i2].dev)
			return afile__fail(
			    &t->op, -EXDEV, "check rename", v->path2);
		if (v->op == AFILE__J_RENAME &&
		    !touched_before(t, k, v->path2)) {
			r = afile__fstatat(
			    t->d.v[i2].fd, name2, &st2, AT_SYMLINK_NOFOLLOW);
			if (r == 0 && S_ISDIR(st2.st_mode))
				return afile__fail(
				    &t->op, -EISDIR, "check target", v->path2);
		}
		if (v->op == AFILE__J_PUT || earlier)
			continue;
		r = afile__fstatat(
		    t->d.v[i].fd, name, &st, AT_SYMLINK_NOFOLLOW);
		if (v->op == AFILE__J_CREATE && r == 0)
			return afile__fail(
			    &t->op, -EEXIST, "check target", v->path);
		if (v->op == AFILE__J_CREATE && r == -ENOENT)
			continue;
		if (r < 0)
			return afile__fail(&t->op, r, "check target", v->path);
		if (v->op == AFILE__J_REMOVE && S_ISDIR(st.st_mode))
			return afile__fail(
			    &t->op, -EISDIR, "check target", v->path);
		v->guard = (uint64_t)st.st_ino;
	}
	return 0;
}

/*
 * Before the journal: how many staged temps it covers, so that a recovery
 * that finds the journal damaged can tell a torn one (all still there)
 * from one whose apply had begun, even when no record is readable.
 */
static int
log_staged_count(struct afile_txn *t)
{
	char line[32];
	size_t n = 0;
	int len, r;

	if (t->intent < 0)
		return 0; /* nothing staged */
	for (size_t k = 0; k < t->nops; k++)
		n += t->ops[k].tmp.named;
	len = snprintf(line, sizeof(line), "=%zu\n", n);
	r = intent_append(t, line, (size_t)len);
	return r < 0 ? afile__fail(&t->op, r, "write", ADIR "/" INTENT) : 0;
}

/* Step 3: the journal, synced with its directory.  The commit point. */
static int
write_journal(struct afile_txn *t)
{
	struct afile__jrec *recs;
	void *buf = NULL;
	size_t len;
	int fd, r;

	recs = afile__malloc((t->nops ? t->nops : 1) * sizeof(*recs));
	if (!recs)
		return afile__fail(&t->op, -ENOMEM, "write journal", ADIR);
	for (size_t k = 0; k < t->nops; k++) {
		recs[k].op = t->ops[k].op;
		recs[k].path = t->ops[k].path;
		recs[k].path2 = t->ops[k].path2 ? t->ops[k].path2 : "";
		recs[k].guard_ino = t->ops[k].guard;
	}
	r = afile__journal_encode(t->id, recs, t->nops, &buf, &len);
	afile__free(recs);
	if (r < 0)
		return afile__fail(&t->op, r, "write journal", ADIR);
	fd = afile__openat(
	    t->adfd, JOURNAL, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		afile__free(buf);
		return afile__fail(&t->op, fd, "write journal", ADIR);
	}
	r = afile__write_all(fd, buf, len);
	afile__free(buf);
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync(fd, false);
	if (r == 0)
		r = afile__close(fd);
	else
		afile__close_quiet(fd);
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync_dir(t->adfd);
	if (r < 0) {
		/*
		 * Not committed, or not known to be (a failed sync may have
		 * written it anyway): take it back, durably, before any
		 * staged temp goes; a journal that came back after its temps
		 * went would be redone by halves.  If that fails too, the
		 * outcome is recovery's: all new or all old.
		 */
		int u = afile__unlinkat(t->adfd, JOURNAL, 0);

		if (u == 0 && t->op.sync != AFILE_SYNC_NONE)
			u = afile__fsync_dir(t->adfd);
		if (u < 0) {
			t->committed = true; /* the temps are the journal's */
			return afile__fail_cause(&t->op, AFILE_EJOURNAL, r,
			    "write journal", ADIR "/" JOURNAL);
		}
		return afile__fail(&t->op, r, "write journal", ADIR);
	}
	return 0;
}

/*
 * Take back what was staged: remove the temps, then make the removals
 * durable, so that the intent log (removed after this) never goes while
 * a temp it names could come back after a power cut.  If a sync fails,
 * the intent log stays for the next recovery, which removes them again.
 */
static void
unstage(struct afile_txn *t)
{
	if (t->unstaged || t->committed)
		return;
	t->unstaged = true;
	for (size_t k = 0; k < t->nops; k++) {
		struct top *v = &t->ops[k];

		if (v->pending) {
			/*
			 * An open writer discards its own (named) temp when
			 * it is freed, after this: the intent log stays
			 * until a recovery, so that a power cut before then
			 * cannot leak it.
			 */
			t->keep_intent = true;
			continue;
		}
		if (v->tmp.fd >= 0 || v->tmp.named)
			afile__tmp_discard(t->d.v[v->dir].fd, &v->tmp);
	}
	for (size_t i = 0; i < t->d.n && t->op.sync != AFILE_SYNC_NONE; i++)
		if (t->d.v[i].logged && afile__fsync_dir(t->d.v[i].fd) < 0)
			t->keep_intent = true;
}

/* Steps 4 and 5: apply under the apply lock, then retire. */
static int
apply_all(struct afile_txn *t)
{
	struct afile__jrec rec;
	int fd = -1, r;

	r = afile__lock_name(
	    &t->op, t->adfd, APPLY_LOCK, ADIR, AFILE_LOCK_EXCLUSIVE, -1, &fd);
	for (size_t k = 0; k < t->nops && r == 0; k++) {
		struct top *v = &t->ops[k];

		rec.op = v->op;
		rec.path = v->path;
		rec.path2 = v->path2 ? v->path2 : "";
		rec.guard_ino = v->guard;
		r = apply_rec(&t->op, &t->d, &rec);
		if (r == 0 && v->tmp.fd >= 0) {
			afile__tmp_published(&v->tmp);
			afile__close_quiet(v->tmp.fd);
			v->tmp.fd = -1;
		}
	}
	if (r == 0)
		r = sync_dirs(&t->op, &t->d, false);
	if (r == 0)
		r = retire(&t->op, t->adfd);
	afile__close_quiet(fd);
	return r;
}

int
afile_txn_commit(struct afile_txn *txn)
{
	int r = check_txn(txn);

	if (r < 0) {
		if (txn && txn->state == T_POISONED)
			txn->state = T_DONE; /* free rolls back */
		return txn ? afile__op_done(&txn->op, r) : r;
	}
	for (size_t k = 0; k < txn->nops; k++)
		if (txn->ops[k].pending)
			r = afile__fail(
			    &txn->op, -EINVAL, "commit", txn->ops[k].path);
	if (r == 0 && txn->nops == 0) {
		txn->state = T_DONE; /* nothing to do, nothing to journal */
		return afile__op_done(&txn->op, 0);
	}
	if (r == 0)
		r = sync_staged(txn);
	if (r == 0)
		r = precheck(txn);
	if (r == 0)
		r = log_staged_count(txn);
	if (r == 0)
		r = write_journal(txn);
	if (r < 0 && txn->committed) {
		/* In doubt (see write_journal()): recovery decides. */
		txn->state = T_DONE;
		for (size_t k = 0; k < txn->nops; k++)
			afile__tmp_published(&txn->ops[k].tmp);
		return afile__op_done(&txn->op, r);
	}
	if (r < 0) {
		/* Not committed: nothing staged may stay (the header says). */
		txn->state = T_DONE;
		unstage(txn);
		return afile__op_done(&txn->op, r);
	}
	/* Committed: from here a failure is finished by recovery. */
	txn->state = T_DONE;
	txn->committed = true;
	r = apply_all(txn);
	if (r < 0) {
		for (size_t k = 0; k < txn->nops; k++) {
			/* The temps belong to the journal now: keep them. */
			afile__tmp_published(&txn->ops[k].tmp);
		}
		r = afile__fail_cause(&txn->op, AFILE_EJOURNAL, r,
		    "apply committed transaction", ADIR "/" JOURNAL);
	}
	return afile__op_done(&txn->op, r);
}

void
afile_txn_free(struct afile_txn *txn)
{
	if (!txn)
		return;
	unstage(txn);
	for (size_t k = 0; k < txn->nops; k++) {
		struct top *v = &txn->ops[k];

		/* Its directory closes below: the writer can only fail now. */
		if (v->pending)
			afile__writer_orphan(v->pending);
		/* Uncommitted temps go; committed ones belong to the journal.
		 */
		if (v->tmp.fd >= 0 || v->tmp.named)
			afile__tmp_discard(txn->d.v[v->dir].fd, &v->tmp);
		afile__free(v->path);
		afile__free(v->path2);
	}
	afile__free(txn->ops);
	/* Rolled back: nothing staged remains for the intent log to name. */
	afile__close_quiet(txn->intent);
	if (txn->intent >= 0 && !txn->committed && !txn->keep_intent)
		(void)afile__unlinkat(txn->adfd, INTENT, 0);
	dirs_done(&txn->d);
	afile__close_quiet(txn->d.rootfd);
	afile__close_quiet(txn->lock);
	afile__close_quiet(txn->adfd);
	afile__free(txn);
}

/* ------------------------------------------------------------------
 * Batches: independent files, shared syncs
 * ------------------------------------------------------------------ */

/* Sync @n prepared writers' temps (@st: their directories). */
static int
batch_sync(struct afile__op *op, struct afile_writer **w, const struct stat *st,
    size_t n)
{
	struct fs_syncs fs = {.n = 0};
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t k = 0; k < n; k++) {
		r = fs_sync(&fs, afile__writer_target(w[k])->dfd, st[k].st_dev);
		if (r < 0)
			return afile__fail(op, r, "sync", ".");
	}
	for (size_t k = 0; fs.each && k < n; k++) {
		r = afile__writer_sync(w[k]);
		if (r < 0)
			return r;
	}
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
		if (r < 0)
			r = afile__fail_cause(op, AFILE_EUNSYNCED, r,
			    "sync directory",
			    afile__writer_target(w[k])->shown);
	}
	return r;
}

static int
batch(struct afile__op *op, int dirfd, const struct afile_item *items, size_t n,
    unsigned int flags)
{
	struct afile_writer **w = afile__malloc(n * sizeof(*w));
	struct stat *st = afile__malloc(n * sizeof(*st));
	struct afile__op sub;
	size_t k, opened = 0;
	int r = 0;

	if (!w || !st) {
		afile__free(w);
		afile__free(st);
		return afile__fail(op, -ENOMEM, "write", ".");
	}
	memset(w, 0, n * sizeof(*w));
	for (k = 0; k < n && r == 0; k++) {
		sub = *op;
		sub.size_hint = items[k].len;
		if (!items[k].buf && items[k].len)
			r = afile__fail(
			    op, -EINVAL, "check arguments", items[k].path);
		if (r == 0)
			r = afile__writer_open(&sub, dirfd, items[k].path,
			    flags | AFILE__NO_SWEEP, NULL, &w[k]);
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
		r = afile__fstat(afile__writer_target(w[k])->dfd, &st[k]);
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
