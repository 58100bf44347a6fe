/* SPDX-License-Identifier: MIT */
/*
 * tmp.c - the temporary file that becomes the new version.
 *
 * The temp lives in the target's directory, because only a rename within
 * one file system is atomic.  Where the file system supports O_TMPFILE
 * the temp has no name while it is written: a crash, kill -9 or power cut
 * leaves nothing behind, and the space is freed by the kernel.  It gets a
 * name only at publication (linkat), for as short a time as a rename
 * takes.  Elsewhere it gets a hidden random name at once:
 *
 *	.TARGET.XXXXXXXXXXXX.afile-tmp
 *
 * with 12 random characters (72 bits from getrandom), opened with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so a collision or a planted symlink is
 * refused rather than followed.  When TARGET is too long for that to fit
 * in NAME_MAX, it is cut and followed by '~' and a 64-bit hash of the
 * whole name, so that long names never fail and stay recognisable.
 *
 * Invariants:
 *   1. A temp that has a name is held under an exclusive OFD lock by its
 *      writer, from before the name is visible (O_TMPFILE: locked, then
 *      linked) or, for a named create, from right after it, checked by
 *      the link count (a sweeper that raced in and removed the name makes
 *      the writer start over).  So a sweeper that can take the lock knows
 *      the writer is gone (cleanup.c).  A transaction's staged temps are
 *      the exception: no lock-based sweeper touches their suffix; the
 *      transaction's own rollback removes them (txn.c).
 *   2. A named fallback temp, which keeps its name while it is written,
 *      is in the registry below while it has it, so that
 *      afile_cleanup_on_signal() can remove it from a signal handler.
 *
 * States of struct afile__tmp:
 *
 *	create --O_TMPFILE--> UNNAMED --give_name--> NAMED --published--> -
 *	   \                                           ^
 *	    +---------------named fallback-------------+
 *	UNNAMED or NAMED --discard--> (gone: name unlinked, fd closed)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define RANDOM_CHARS  12
#define NAMED_TRIES   100
#define HASH_MARK_LEN (1 + 16)

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/* FNV-1a, 64 bits: only has to make cut names distinct, not secret. */
static uint64_t
hash64(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

int
afile__hidden_name(const char *target, const char *tail, char out[NAME_MAX + 1])
{
	size_t tlen = strlen(target), room = NAME_MAX - 1 - strlen(tail);
	int r;

	if (strlen(tail) + 1 + HASH_MARK_LEN >= NAME_MAX)
		return -ENAMETOOLONG;
	if (tlen <= room)
		r = snprintf(out, NAME_MAX + 1, ".%s%s", target, tail);
	else
		r = snprintf(out, NAME_MAX + 1, ".%.*s~%016llx%s",
		    (int)(room - HASH_MARK_LEN), target,
		    (unsigned long long)hash64(target), tail);
	return r > 0 && r <= NAME_MAX ? 0 : -ENAMETOOLONG;
}

/*
 * The per-process key of temp names, in a page a forked child sees
 * zeroed (sys.c): a child draws its own key, so that siblings never make
 * the same names.  @state: 0 no key (or wiped by a fork), 1 being drawn,
 * 2 ready.
 */
struct name_key {
	_Atomic int state;
	uint64_t k0, k1;
	_Atomic uint64_t counter;
};

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1, v1 = ROTL(v1, 13), v1 ^= v0, v0 = ROTL(v0, 32); \
		v2 += v3, v3 = ROTL(v3, 16), v3 ^= v2;                    \
		v0 += v3, v3 = ROTL(v3, 21), v3 ^= v0;                    \
		v2 += v1, v1 = ROTL(v1, 17), v1 ^= v2, v2 = ROTL(v2, 32); \
	} while (0)

/* SipHash-2-4 of one 64-bit word: a keyed PRF, names not predictable. */
static uint64_t
siphash_u64(uint64_t k0, uint64_t k1, uint64_t m)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575u, v1 = k1 ^ 0x646f72616e646f6du;
	uint64_t v2 = k0 ^ 0x6c7967656e657261u, v3 = k1 ^ 0x7465646279746573u;
	uint64_t b = (uint64_t)8 << 56;

	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * RANDOM_CHARS random bytes from the process's key and a counter; -1
 * (the caller draws from getrandom) while no key can be had.
 */
static int
keyed_random(unsigned char rnd[RANDOM_CHARS])
{
	struct name_key *k = afile__wiped_on_fork();
	uint64_t key[2], c, h[2];
	int expect = 0;

	if (!k || !afile__sys_real(AFILE__SYS_GETRANDOM))
		return -1;
	if (atomic_load(&k->state) != 2) {
		if (!atomic_compare_exchange_strong(&k->state, &expect, 1))
			return -1; /* another thread is drawing it */
		if (afile__random(key, sizeof(key)) < 0) {
			atomic_store(&k->state, 0);
			return -1;
		}
		k->k0 = key[0];
		k->k1 = key[1];
		atomic_store(&k->state, 2);
	}
	c = atomic_fetch_add(&k->counter, 1);
	h[0] = siphash_u64(k->k0, k->k1, 2 * c);
	h[1] = siphash_u64(k->k0, k->k1, 2 * c + 1);
	memcpy(rnd, h, RANDOM_CHARS);
	return 0;
}

int
afile__tmp_name(const char *target, const char *suffix, char name[NAME_MAX + 1])
{
	unsigned char rnd[RANDOM_CHARS];
	char tail[1 + RANDOM_CHARS + 16];

	/*
	 * A key per process (drawn once, then SipHash of a counter) spares
	 * a getrandom per name.  A forked child must not keep it: siblings
	 * would make the same names in lockstep, and a writer that lost its
	 * name to a sweeper would unlink a sibling's temp of that name
	 * (stress-versions, named temps).  So the key lives in a page the
	 * kernel wipes in a child (MADV_WIPEONFORK), which then draws its
	 * own; without that page, a fresh draw per name.
	 */
	if (keyed_random(rnd) < 0 && afile__random(rnd, sizeof(rnd)) < 0) {
		/*
		 * No entropy source: names need only be unlikely to
		 * collide (O_EXCL catches the rest), so mix the clock with
		 * the stack address.
		 */
		uint64_t x = afile__now_ns() ^ (uint64_t)(uintptr_t)rnd;

		for (size_t i = 0; i < sizeof(rnd); i++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			rnd[i] = (unsigned char)(x >> 56);
		}
	}
	tail[0] = '.';
	for (size_t i = 0; i < RANDOM_CHARS; i++)
		tail[1 + i] = alphabet[rnd[i] & 63];
	if (strlen(suffix) >= 16)
		return -EINVAL;
	memcpy(tail + 1 + RANDOM_CHARS, suffix, strlen(suffix) + 1);
	return afile__hidden_name(target, tail, name);
}

void
afile__name_chars(uint64_t v, char *out, size_t n)
{
	for (size_t i = 0; i < n; i++, v >>= 6)
		out[i] = alphabet[v & 63];
}

bool
afile__is_tmp_of(const char *entry, const char *prefix)
{
	size_t plen = strlen(prefix), elen = strlen(entry);
	size_t slen = sizeof(AFILE__TMP_SUFFIX) - 1;

	if (elen != plen + RANDOM_CHARS + slen || strncmp(entry, prefix, plen))
		return false;
	return !strcmp(entry + elen - slen, AFILE__TMP_SUFFIX);
}

/* ------------------------------------------------------------------
 * The registry of named temps, for afile_cleanup_on_signal()
 *
 * A fixed array, no allocation, no locks: a signal handler may run in the
 * middle of any update.  A slot is claimed with a compare-and-swap, filled,
 * then published as USED; the handler only reads USED slots.  The pid
 * stops a forked child from removing its parent's temps (git tempfile.c).
 * ------------------------------------------------------------------ */

#define SLOTS 64

enum { SLOT_FREE, SLOT_CLAIMED, SLOT_USED };

static struct slot {
	_Atomic int state;
	int dfd;
	pid_t pid;
	char name[NAME_MAX + 1];
} registry[SLOTS];

static void
tmp_register(int dfd, struct afile__tmp *tmp)
{
	tmp->slot = -1;
	for (int i = 0; i < SLOTS; i++) {
		int expect = SLOT_FREE;

		if (!atomic_compare_exchange_strong(
			&registry[i].state, &expect, SLOT_CLAIMED))
			continue;
		registry[i].dfd = dfd;
		registry[i].pid = afile__getpid();
		memcpy(registry[i].name, tmp->name, sizeof(tmp->name));
		atomic_store(&registry[i].state, SLOT_USED);
		tmp->slot = i;
		return;
	}
	/* Full: this temp is left to the sweepers, documented. */
}

static void
tmp_unregister(struct afile__tmp *tmp)
{
	if (tmp->slot >= 0)
		atomic_store(&registry[tmp->slot].state, SLOT_FREE);
	tmp->slot = -1;
}

void
afile_cleanup_on_signal(void)
{
	pid_t self = afile__getpid();

	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &registry[i];

		if (atomic_load(&s->state) == SLOT_USED && s->pid == self)
			afile__unlink_signal_safe(s->dfd, s->name);
	}
}

/* ------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------ */

/*
 * Invariant 1 for a temp created under its name: lock it, then make sure
 * the name is still its own.  Returns 0, or -EAGAIN when a sweeper took it.
 */
static int
own_named(int fd)
{
	struct stat st;
	int r;

	r = afile__lock_fd(fd, F_WRLCK, false);
	if (r == -EAGAIN)
		return r;
	if (r < 0) /* no locks here: the sweepers' minimum age protects it */
		return 0;
	r = afile__fstat(fd, &st);
	if (r == 0 && st.st_nlink == 0)
		return -EAGAIN;
	return 0;
}

int
afile__tmp_create(struct afile__op *op, int dfd, const char *target,
    mode_t mode, mode_t unnamed_mode, struct afile__tmp *tmp)
{
	int fd, r;

	tmp->fd = -1;
	tmp->slot = -1;
	tmp->named = false;
	tmp->name[0] = '\0';
	if (op->stage_name) {
		/* A transaction's staged temp: named as it says, unlocked. */
		for (int i = 0; i < NAMED_TRIES; i++) {
			r = op->stage_name(op->stage_ctx, target, tmp->name);
			if (r < 0)
				return afile__fail(
				    op, r, "create temporary file", target);
			fd = afile__openat(dfd, tmp->name,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
			if (fd >= 0) {
				tmp->fd = fd;
				tmp->named = true;
				return 0;
			}
			if (fd != -EEXIST)
				break;
		}
		tmp->name[0] = '\0';
		return afile__fail(op, fd, "create temporary file", target);
	}
#ifdef O_TMPFILE
	fd = afile__openat(dfd, ".", O_TMPFILE | O_RDWR, unnamed_mode);
	if (fd >= 0) {
		tmp->fd = fd;
		return 0;
	}
	/*
	 * EOPNOTSUPP: this file system has no O_TMPFILE; EISDIR or EINVAL:
	 * the kernel predates it (O_TMPFILE contains O_DIRECTORY).  Anything
	 * else (EACCES, EROFS, ENOSPC, EMFILE) would fail a named temp too.
	 */
	if (fd != -EOPNOTSUPP && fd != -EISDIR && fd != -EINVAL)
		return afile__fail(op, fd, "create temporary file", target);
#endif
	for (int i = 0; i < NAMED_TRIES; i++) {
		r = afile__tmp_name(target, AFILE__TMP_SUFFIX, tmp->name);
		if (r < 0)
			return afile__fail(
			    op, r, "create temporary file", target);
		fd = afile__openat(dfd, tmp->name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		if (fd == -EEXIST)
			continue;
		if (fd < 0)
			break;
		r = own_named(fd);
		if (r < 0) {
			/* A sweeper got there first: let go, try another. */
			(void)afile__unlinkat(dfd, tmp->name, 0);
			afile__close_quiet(fd);
			fd = r;
			continue;
		}
		tmp->fd = fd;
		tmp->named = true;
		tmp_register(dfd, tmp);
		return 0;
	}
	tmp->name[0] = '\0';
	return afile__fail(
	    op, fd < 0 ? fd : -EEXIST, "create temporary file", target);
}

/* Set when linkat(AT_EMPTY_PATH) was refused: /proc first from then on. */
static _Atomic int link_by_proc;

static int
link_proc(int dfd, struct afile__tmp *tmp, const char *name)
{
	char proc[64];

	(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tmp->fd);
	return afile__linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW);
}

int
afile__tmp_link(int dfd, struct afile__tmp *tmp, const char *name)
{
	int r;

	/*
	 * linkat(AT_EMPTY_PATH) is a plain lookup of the name; the /proc
	 * magic link costs a walk of /proc (about 3 us more per replace on
	 * a VM).  But AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH before Linux
	 * 6.10 (-ENOENT without it), and the /proc link needs /proc: try
	 * the one that worked last in this process, then the other.
	 */
	if (link_by_proc) {
		r = link_proc(dfd, tmp, name);
		if (r == -ENOENT)
			r = afile__linkat(
			    tmp->fd, "", dfd, name, AT_EMPTY_PATH);
		return r;
	}
	r = afile__linkat(tmp->fd, "", dfd, name, AT_EMPTY_PATH);
	if (r == -ENOENT) {
		r = link_proc(dfd, tmp, name);
		if (r == 0)
			link_by_proc = 1;
	}
	return r;
}

int
afile__tmp_give_name(int dfd, struct afile__tmp *tmp, const char *target)
{
	char name[NAME_MAX + 1];
	int r;

	/* Invariant 1: locked before the name can be seen. */
	(void)afile__lock_fd(tmp->fd, F_WRLCK, false);
	for (int i = 0; i < NAMED_TRIES; i++) {
		r = afile__tmp_name(target, AFILE__TMP_SUFFIX, name);
		if (r < 0)
			return r;
		/*
		 * Not registered: a rename consumes this name a moment later
		 * (a signal in between leaves it to the next sweep), which
		 * spares every replace a getpid().
		 */
		r = afile__tmp_link(dfd, tmp, name);
		if (r == 0) {
			memcpy(tmp->name, name, sizeof(name));
			tmp->named = true;
			return 0;
		}
		if (r != -EEXIST)
			return r;
	}
	return -EEXIST;
}

void
afile__tmp_published(struct afile__tmp *tmp)
{
	tmp->named = false;
	tmp_unregister(tmp);
}

int
afile__tmp_discard(int dfd, struct afile__tmp *tmp)
{
	int r = 0;

	if (tmp->named)
		r = afile__unlinkat(dfd, tmp->name, 0);
	afile__tmp_published(tmp);
	afile__close_quiet(tmp->fd);
	tmp->fd = -1;
	return r == -ENOENT ? 0 : r;
}
