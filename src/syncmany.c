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
 */
#include <stdatomic.h>

#include "internal.h"

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
afile__syncfs_trusted(int fd)
{
	const struct afile__fstype *t;

	/* An fstatfs that fails leaves "unknown": an fsync per file. */
	(void)afile__fstype_of(fd, &t);
	return (t->flags & AFILE__FS_SYNCFS) != 0;
}
