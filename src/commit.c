/* SPDX-License-Identifier: MIT */
/*
 * commit.c - afile_txn_commit(): steps 1 to 5 of the protocol in txn.c,
 * and the batched syncs that batches share.
 *
 *   1. sync_staged(): the staged temps and their directories, durable
 *      (one syncfs per file system, afile__fs_sync());
 *   2. precheck(): everything the apply will do must be possible now;
 *   3. log_staged_count(), write_journal(): THE COMMIT POINT;
 *   4. apply_all(): under the apply lock, apply the records in order
 *      (apply.c), sync every touched directory once;
 *   5. retire the journal and the intent log (durably, unless every
 *      record is a put or a create: txn.c, invariant 2).
 *
 * Invariants:
 *   1. Nothing visible changes before the commit point; every staged
 *      temp and the journal are durable at it (step 1 before step 3).
 *   2. A failure before the commit point takes everything back
 *      (afile__unstage()); a journal whose write or sync failed is
 *      removed durably before any temp goes, and if that fails too the
 *      outcome is recovery's (AFILE_EJOURNAL): all old or all new.
 *   3. From the commit point on, the temps belong to the journal: a
 *      failure keeps them for recovery (AFILE_EJOURNAL).
 *
 * State diagram: OPEN --commit ok--> DONE (committed);
 * OPEN --failure before the journal--> DONE (taken back);
 * POISONED --commit--> DONE (fails; changes nothing).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "txn.h"

int
afile__fs_sync(struct fs_syncs *fs, int fd, dev_t dev)
{
	int r;

	if (fs->each)
		return 0;
	for (size_t k = 0; k < fs->n; k++)
		if (fs->dev[k] == dev)
			return 0;
	if (fs->n == sizeof(fs->dev) / sizeof(fs->dev[0]) ||
	    !afile__use_syncfs(fd)) {
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

static int
sync_one_staged(void *ctx, size_t k)
{
	struct afile_txn *t = ctx;

	return t->ops[k].tmp.fd < 0 ? 0 : afile__fsync(t->ops[k].tmp.fd, false);
}

/* Step 1: the staged temps and their directories, durable. */
static int
sync_staged(struct afile_txn *t)
{
	struct afile__op *op = &t->op;
	struct fs_syncs fs = {.n = 0};
	size_t bad;
	int r;

	if (op->sync == AFILE_SYNC_NONE)
		return 0;
	for (size_t i = 0; i < t->d.n; i++) {
		if (!t->d.v[i].temps)
			continue;
		r = afile__fs_sync(&fs, t->d.v[i].fd, t->d.v[i].dev);
		if (r < 0)
			return afile__fail(op, r, "sync staged files", ".");
	}
	if (!fs.each)
		return 0; /* syncfs wrote the temps' directories back too */
	/* Off the allowlist, or a busy disk: an fsync each, concurrently. */
	r = afile__each(t->nops, sync_one_staged, t, &bad);
	if (r < 0)
		return afile__fail(
		    op, r, "sync staged files", t->ops[bad].path);
	return afile__sync_dirs(op, &t->d, true);
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

		r = afile__dir_of(&t->d, v->path, &i, &name);
		if (r == 0 && v->op == AFILE__J_RENAME)
			r = afile__dir_of(&t->d, v->path2, &i2, &name2);
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
		/* A put checks nothing (and a 1000-put commit no O(n^2)). */
		if (v->op == AFILE__J_PUT || touched_before(t, k, v->path))
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
	r = afile__intent_append(t, line, (size_t)len);
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
	/* Its bytes and size are all it needs (mode: set at creation). */
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync(fd, true);
	if (r == 0)
		r = afile__close(fd);
	else
		afile__close_quiet(fd);
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__sync_dir_lax(&t->op, t->adfd);
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
			u = afile__sync_dir_lax(&t->op, t->adfd);
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
 * Only puts and creates: a journal that came back after its retirement
 * would redo nothing (afile__retire(), txn.h).
 */
static bool
puts_only(const struct afile_txn *t)
{
	for (size_t k = 0; k < t->nops; k++)
		if (t->ops[k].op != AFILE__J_PUT &&
		    t->ops[k].op != AFILE__J_CREATE)
			return false;
	return true;
}

/*
 * Steps 4 and 5: apply under the apply lock, then retire; the retirement
 * of a journal of puts and creates is made durable by the next
 * transaction's first sync of .atomicfile/ (txn.c, invariant 2).
 */
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
		r = afile__apply_rec(&t->op, &t->d, &rec);
		if (r == 0 && v->tmp.fd >= 0) {
			afile__tmp_published(&v->tmp);
			afile__close_quiet(v->tmp.fd);
			v->tmp.fd = -1;
		}
	}
	if (r == 0)
		r = afile__sync_dirs(&t->op, &t->d, false);
	if (r == 0)
		r = afile__retire(&t->op, t->adfd, !puts_only(t));
	afile__close_quiet(fd);
	return r;
}

int
afile_txn_commit(struct afile_txn *txn)
{
	int r = afile__txn_check(txn);

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
		afile__unstage(txn);
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
