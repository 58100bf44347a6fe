/* SPDX-License-Identifier: MIT */
/*
 * txn.c - multi-file transactions: begin, staging, and taking back.
 *
 * The protocol of the whole transaction layer is told here; its steps
 * live in txn.c (begin, stage), commit.c (commit: steps 1 to 5),
 * apply.c (what commit and recovery share), recover.c (recover) and
 * snapshot.c (readers); txn.h declares what they share.
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
 *           3. write .atomicfile/journal, sync it (fdatasync) and
 *              .atomicfile/: THE COMMIT POINT;
 *           4. under .atomicfile/.apply.afile-lock (exclusive; snapshot
 *              readers hold it shared), apply the records in order, sync
 *              every touched directory once;
 *           5. retire: unlink journal and intent, sync .atomicfile/ --
 *              except after a journal of puts and creates only: its
 *              retirement is made durable by the next transaction's
 *              first sync of .atomicfile/ (invariant 2).
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
 *      synced (step 4 before 5), and the retirement is durable before
 *      the next transaction of the root changes anything: its first sync
 *      of .atomicfile/ (the intent log's name, or its journal's at its
 *      commit point) comes before its first temp and its apply.  So an
 *      old journal can never come back and be replayed over a later
 *      transaction.  A journal with a remove or a rename is retired
 *      durably before commit returns, since a later plain call (a
 *      rename back) could be undone by its replay, the inode guards
 *      being only a second line; one of puts and creates only is not:
 *      if it comes back, its redo finds every staged temp gone and does
 *      nothing (a temp's name, tag + counter, is never staged again).
 *      That saves one directory sync per such commit.
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
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "txn.h"

/* ------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------ */

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
	struct top *v;

	if (t->nops == t->cap) {
		/* Geometric: a 1000-put transaction reallocates ~15 times. */
		size_t cap = t->cap < 8 ? 8 : t->cap + t->cap / 2;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = afile__realloc(t->ops, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->ops = v;
		t->cap = cap;
	}
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

int
afile__txn_check(struct afile_txn *t)
{
	if (!t || t->state == T_DONE)
		return -EINVAL;
	return t->state == T_POISONED ? AFILE_EPOISONED : 0;
}

static int stage_name(void *ctx, const char *target, char *out);
static int stage_writer(void *ctx, struct afile_writer *w);
static void drop_writer(void *ctx, struct afile_writer *w);
static const struct afile__writer_owner writer_owner = {
    .commit = stage_writer, .drop = drop_writer};

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
	r = t->adfd = afile__open_adir(&t->op, t->d.rootfd, true);
	if (r >= 0)
		r = afile__lock_name(&t->op, t->adfd, TXN_LOCK, ADIR,
		    AFILE_LOCK_EXCLUSIVE, afile__wait_ms(&t->op), &t->lock);
	if (r >= 0)
		r = afile__recover_locked(&t->op, t->d.rootfd, t->adfd, &rep);
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
int
afile__intent_append(struct afile_txn *t, const char *line, size_t len)
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
	r = afile__intent_append(t, line, (size_t)n);
	if (r == 0 && t->op.sync != AFILE_SYNC_NONE)
		r = afile__fsync(t->intent, true);
	if (r == 0 && created && t->op.sync != AFILE_SYNC_NONE)
		r = afile__sync_dir_lax(&t->op, t->adfd);
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

	r = afile__dir_of(&t->d, path, ret_dir, &name);
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
	int r = afile__txn_check(t);

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
	int r = afile__txn_check(txn);

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
	afile__writer_set_owner(w, &writer_owner, txn);
	*ret_writer = w;
	return 0;
}

/*
 * The writer's owner hooks (afile__writer_set_owner()): its commit stages
 * into the transaction, its free without a commit abandons the put.
 */
static int
stage_writer(void *ctx, struct afile_writer *w)
{
	struct afile_txn *t = ctx;

	for (size_t k = 0; k < t->nops; k++) {
		struct top *v = &t->ops[k];
		int r;

		if (v->pending != w)
			continue;
		afile__writer_set_owner(w, NULL, NULL);
		r = stage(t, v, w);
		if (r < 0)
			return poison_txn(t, r);
		t->d.v[v->dir].temps = true;
		return 0;
	}
	return -EINVAL;
}

static void
drop_writer(void *ctx, struct afile_writer *w)
{
	struct afile_txn *t = ctx;

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
	int r = afile__txn_check(txn);

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
	int r = afile__txn_check(txn);

	if (r < 0)
		return r;
	if (flags || !from || !to || !afile__jpath_ok(from) ||
	    !afile__jpath_ok(to))
		return poison_txn(txn, -EINVAL);
	r = add_op(txn, AFILE__J_RENAME, from, to, NULL);
	return r < 0 ? poison_txn(txn, r) : 0;
}

/*
 * Take back what was staged: remove the temps, then make the removals
 * durable, so that the intent log (removed after this) never goes while
 * a temp it names could come back after a power cut.  If a removal or a
 * sync fails, the intent log stays for the next recovery, which removes
 * them again.
 */
void
afile__unstage(struct afile_txn *t)
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
		/* A temp that stays named keeps the log that names it. */
		if ((v->tmp.fd >= 0 || v->tmp.named) &&
		    afile__tmp_discard(t->d.v[v->dir].fd, &v->tmp) < 0)
			t->keep_intent = true;
	}
	for (size_t i = 0; i < t->d.n && t->op.sync != AFILE_SYNC_NONE; i++)
		if (t->d.v[i].logged &&
		    afile__sync_dir_lax(&t->op, t->d.v[i].fd) < 0)
			t->keep_intent = true;
}

void
afile_txn_free(struct afile_txn *txn)
{
	if (!txn)
		return;
	afile__unstage(txn);
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
	afile__dirs_done(&txn->d);
	afile__close_quiet(txn->d.rootfd);
	afile__close_quiet(txn->lock);
	afile__close_quiet(txn->adfd);
	afile__free(txn);
}
