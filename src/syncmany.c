/* SPDX-License-Identifier: MIT */
/*
 * syncmany.c - making many files durable at once, on any file system.
 *
 * Transactions and afile_write_many need N staged files durable before
 * their commit point.  One syncfs(2) per file system does it with one
 * journal commit, but only where syncfs is proven to (fstype.c's
 * allowlist): on FUSE, NFS, CIFS and the rest it returns 0 having made
 * nothing durable, and a committed transaction came back empty after a
 * power cut (issue 9).  Everywhere else each file gets its own fsync.
 *
 * An fsync per file in turn costs N journal commits; issued from a small
 * pool of threads they share commits (ext4 and xfs batch the waiters of
 * one commit), at a fraction of the serial time (bench/bench_batch.c,
 * "threads-T").  The pool lives inside the call: created, used, joined
 * before it returns; no thread outlives a library call.
 *
 * Invariants:
 *   1. afile__each() returns only after every worker is joined, and
 *      reports the first failure (no later success hides it); after a
 *      failure no new item is started.
 *   2. Each item is handled by exactly one worker.  The callback touches
 *      only its own item's state (and the atomic statistics).
 *   3. With the table's syncs swapped (tests), the caller alone runs the
 *      items in order, stopping at the first failure, as a loop would.
 *   4. syncfs is used only where it is trusted and, by the numbers, pays:
 *      on a quiet journaled ext4 one syncfs makes 1000 staged files
 *      durable in ~35 ms against ~580 ms for 64 threads of fsyncs; with
 *      a neighbour rewriting a 1.5 GB file it takes ~2.3 s (it writes
 *      the neighbour's data back too) against ~0.7 s (bench_batch
 *      --neighbour-mb=1536, docs/NOTES.md).  So syncfs only while the
 *      system's dirty data is small (/proc/meminfo Dirty + Writeback),
 *      except on memory-only file systems (tmpfs), where syncfs writes
 *      nothing back and the pool would fsync each file for nothing (20x
 *      a batch's time on tmpfs after a large write elsewhere).
 */
#include <stdatomic.h>

#include "internal.h"

/*
 * Above this much dirty data (system-wide) an fsync per file beats one
 * syncfs on an allowlisted file system (invariant 4).
 */
#define SYNCFS_DIRTY_MAX_KIB (128u * 1024u)

/* Items per worker below which another thread costs more than it saves. */
#define PER_THREAD 2

struct each {
	int (*one)(void *ctx, size_t k);
	void *ctx;
	size_t n;
	atomic_size_t next;
	atomic_int err;
	atomic_size_t bad;
};

static void *
worker(void *arg)
{
	struct each *e = arg;
	size_t k;

	while (atomic_load(&e->err) == 0 &&
	    (k = atomic_fetch_add(&e->next, 1)) < e->n) {
		int r = e->one(e->ctx, k);
		int none = 0;

		if (r < 0 && atomic_compare_exchange_strong(&e->err, &none, r))
			atomic_store(&e->bad, k);
	}
	return NULL;
}

int
afile__each(
    size_t n, int (*one)(void *ctx, size_t k), void *ctx, size_t *ret_bad)
{
	struct each e = {.one = one, .ctx = ctx, .n = n};
	size_t threads = n / PER_THREAD;

	atomic_init(&e.next, 0);
	atomic_init(&e.err, 0);
	atomic_init(&e.bad, 0);
	afile__parallel(worker, &e,
	    threads < 1                        ? 1
		: threads > AFILE__THREADS_MAX ? AFILE__THREADS_MAX
					       : (unsigned int)threads);
	*ret_bad = atomic_load(&e.bad);
	return atomic_load(&e.err);
}

bool
afile__use_syncfs(int fd)
{
	const struct afile__fstype *t;
	uint64_t dirty;

	/* An fstatfs that fails leaves "unknown": an fsync per file. */
	(void)afile__fstype_of(fd, &t);
	if (!(t->flags & AFILE__FS_SYNCFS))
		return false;
	if (t->flags & AFILE__FS_VOLATILE)
		return true;
	/*
	 * syncfs writes back everyone's dirty data on the file system: with
	 * a busy neighbour it costs what the neighbour wrote (invariant 4).
	 * Unknown: syncfs, the quiet case's winner.
	 */
	return afile__dirty_kib(&dirty) < 0 || dirty <= SYNCFS_DIRTY_MAX_KIB;
}
