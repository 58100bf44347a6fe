/* SPDX-License-Identifier: MIT */
/*
 * recover.c - recovery of a root after a crash: redo a committed
 * transaction, roll back an uncommitted one with the intent log; and
 * afile_read()'s hot-journal check.
 *
 * A valid journal is redone (apply.c) and retired.  No journal, or an
 * invalid one that was torn while being written: the transaction never
 * reached its commit point, and what staging left is removed: the temps
 * named by the journal's readable records, and every temp carrying the
 * transaction's tag in the directories the intent log names.
 *
 * The intent log (.atomicfile/intent), written by staging (txn.c):
 *   "#TAG"  first line: the tag in every staged temp's name;
 *   "DIR/"  one line per directory staged into ("/" for the root),
 *           durable before the first temp is created there;
 *   "=N"    the number of staged temps, written just before the journal
 *           (not synced).
 *
 * Invariants:
 *   1. A rollback retires the journal first (durably), so that a crash
 *      during it finds no journal and rolls back again from the intent
 *      log alone; the intent log goes last, once the removals are synced.
 *   2. An invalid journal one of whose staged temps is already gone was
 *      not torn but damaged after its apply began: AFILE_ECORRUPT, nothing
 *      done.  When that cannot be told (an error), nothing is decided.
 *   3. Recovery runs under the transaction lock and redoes under the
 *      apply lock (exclusive): snapshot readers never see half of it.
 *   4. The hot-journal check of a read costs one stat when there is no
 *      journal, and never waits: a journal whose transaction lock is held
 *      belongs to a live transaction and is not hot.
 *
 * State diagram (what afile__recover_locked() finds --> what it does):
 *   no journal, no intent log   --> nothing           (NONE)
 *   no journal, an intent log   --> roll back         (ROLLED_BACK)
 *   valid journal               --> redo, retire      (REDONE)
 *   invalid, all temps there    --> roll back         (ROLLED_BACK)
 *   invalid, a temp gone        --> refuse            (CORRUPT)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

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

	if (is_staged(path) && afile__dir_of(d, path, &i, &name) == 0 &&
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

		/* afile__dir_of() resolves a file's directory: ask for a child.
		 */
		if (snprintf(probe, sizeof(probe), "%.*s%sx", (int)len,
			in->dirs[k], len ? "/" : "") >= (int)sizeof(probe))
			continue;
		r = afile__dir_of(d, probe, &i, &name);
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
		r = afile__sync_dir_lax(op, adfd);
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
		r = afile__sync_dir_lax(op, d->v[i].fd);
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

	r = afile__dir_of(d, path, &i, &name);
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
		r = afile__apply_rec(op, d, &j->recs[k]);
	if (r == 0)
		r = afile__sync_dirs(op, d, false);
	if (r == 0)
		r = afile__retire(op, adfd, true);
	return r;
}

/*
 * Recover the root whose .atomicfile/ is @adfd; the caller holds the
 * transaction lock.  Takes the apply lock for the redo.
 */
int
afile__recover_locked(struct afile__op *op, int rootfd, int adfd,
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
	afile__dirs_done(&d);
	return r;
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
	adfd = afile__open_adir(&op, rfd, false);
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
		r = afile__recover_locked(&op, rfd, adfd, rep);
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
	adfd = afile__open_adir(&probe, dirfd, false);
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
		r = afile__recover_locked(op, dirfd, adfd, &rep);
	}
	afile__close_quiet(lock);
	afile__close_quiet(adfd);
	return r;
}
