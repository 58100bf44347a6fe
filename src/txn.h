/* SPDX-License-Identifier: MIT */
/*
 * txn.h - what the modules of the transaction layer share: the layout of
 * ROOT/.atomicfile/, the directories of a transaction, the transaction
 * itself, and the functions one module of the layer calls in another.
 * Only files of the transaction layer (apply.c, recover.c, txn.c,
 * commit.c, snapshot.c, batch.c) and the public API layer (api.c)
 * include it: tests/check-layers.sh fails the build otherwise.
 *
 * Within the layer, calls go one way too:
 *   apply.c <- recover.c <- txn.c <- commit.c <- batch.c;
 *   recover.c <- snapshot.c.
 */
#ifndef AFILE_TXN_H
#define AFILE_TXN_H

#include "internal.h"
#include "journal.h"

#define ADIR       ".atomicfile"
#define JOURNAL    "journal"
#define INTENT     "intent"
#define TXN_LOCK   "txn"
#define APPLY_LOCK "apply"

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
	bool unstaged;    /* the temps were taken back (see afile__unstage()) */
	bool keep_intent; /* ...not durably: recovery needs the intent log */
	struct afile__op op;
	int adfd, lock, intent;
	struct dirs d;
	struct top *ops;
	size_t nops, cap; /* cap: room in ops, grown by half each time */
	uint64_t id;
	char tag[7];      /* in every staged temp's name: stage_name(), txn.c */
	uint64_t counter; /* makes the staged names distinct */
};

/* ------------------------------------------------------------------
 * Directories and applying records (apply.c)
 * ------------------------------------------------------------------ */

AFILE_HIDDEN void afile__dirs_done(struct dirs *d);
/*
 * Resolve the directory of @path beneath the root (opened once, then
 * reused): *@ret_idx is its index, *@ret_name the last component of @path.
 */
AFILE_HIDDEN int afile__dir_of(
    struct dirs *d, const char *path, size_t *ret_idx, const char **ret_name);
/* Sync every directory holding temps (@temps) or touched by the apply. */
AFILE_HIDDEN int afile__sync_dirs(
    struct afile__op *op, struct dirs *d, bool temps);
/* Apply one journal record, idempotently (commit and recovery). */
AFILE_HIDDEN int afile__apply_rec(
    struct afile__op *op, struct dirs *d, const struct afile__jrec *rec);
/*
 * Step 5: retire the journal and the intent log, and with @sync make
 * that durable (sync .atomicfile/).  Without @sync a power cut may bring
 * them back: only for a journal whose every record is a put or a create,
 * whose redo is then a no-op (each staged temp is gone, and its name is
 * never staged again: transaction tag + counter), and only because the
 * next transaction of the root syncs .atomicfile/ before it stages or
 * commits anything (txn.c, invariant 2).
 */
AFILE_HIDDEN int afile__retire(struct afile__op *op, int adfd, bool sync);
/*
 * Open (creating with @create) ROOT/.atomicfile/; one that another user
 * planted in a sticky directory is refused (AFILE_EPROTECTED).
 */
AFILE_HIDDEN int afile__open_adir(
    struct afile__op *op, int rootfd, bool create);

/* ------------------------------------------------------------------
 * Recovery (recover.c)
 * ------------------------------------------------------------------ */

/*
 * Recover the root whose .atomicfile/ is @adfd; the caller holds the
 * transaction lock.  Takes the apply lock for the redo.
 */
AFILE_HIDDEN int afile__recover_locked(struct afile__op *op, int rootfd,
    int adfd, struct afile_recover_report *rep);
/*
 * afile_read()'s hot-journal check: when @dirfd holds .atomicfile/journal
 * and no transaction owns it, recover.  0 when there is nothing to do.
 */
AFILE_HIDDEN int afile__recover_if_hot(struct afile__op *op, int dirfd);

/* ------------------------------------------------------------------
 * Staging (txn.c), for the commit
 * ------------------------------------------------------------------ */

/* 0 if @t may go on; -EINVAL when done, AFILE_EPOISONED when poisoned. */
AFILE_HIDDEN int afile__txn_check(struct afile_txn *t);
/* Append a line to the intent log, creating it on first use. */
AFILE_HIDDEN int afile__intent_append(
    struct afile_txn *t, const char *line, size_t len);
/* Take back what was staged (uncommitted): see txn.c. */
AFILE_HIDDEN void afile__unstage(struct afile_txn *t);

/* ------------------------------------------------------------------
 * Batched syncs (commit.c), for the commit and for batches
 * ------------------------------------------------------------------ */

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

/*
 * Make the file system holding @fd (device @dev) durable, once per file
 * system in @fs; sets @fs->each when the caller must fsync each file.
 */
AFILE_HIDDEN int afile__fs_sync(struct fs_syncs *fs, int fd, dev_t dev);

#endif /* AFILE_TXN_H */
