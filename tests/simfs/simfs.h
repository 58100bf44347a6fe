/* SPDX-License-Identifier: MIT */
/*
 * simfs.h - an in-memory file system with a power-loss model, behind the
 * library's syscall table.
 *
 * A simfs keeps two layers: the volatile image (what a running process
 * sees, POSIX in-memory semantics) and a trace of micro-ops that says
 * what may have reached the disk.  Every call through the table is one
 * event; a crash point p means "power lost after the first p events".
 * For each crash point, simfs_each_state() builds every legal durable
 * state (crash-testing.md §2, POSIX-pessimistic profile) as a fresh simfs
 * and hands it to a checker.
 *
 * Not thread-safe: simfs_install() points the process-wide table at one
 * instance.
 */
#ifndef AFILE_TEST_SIMFS_H
#define AFILE_TEST_SIMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Kernel features a simfs can lack, so that the fallbacks run. */
#define SIMFS_NO_TMPFILE   0x1u /* O_TMPFILE fails with EOPNOTSUPP */
#define SIMFS_NO_RENAMEAT2 0x2u /* renameat2 with flags fails, EINVAL */
/*
 * A file system off the syncfs allowlist (FUSE): statfs says FUSE, and
 * syncfs returns 0 having made nothing durable (the kernel sends
 * FUSE_SYNCFS only to virtiofs).  Without it statfs says ext4.
 */
#define SIMFS_FUSE         0x4u
/*
 * A rename of a file between two directories is two micro-ops: the new
 * name (forced by a sync of the destination directory) and the removal
 * of the old one (forced by a sync of the source directory; never
 * durable without the new name).  Models file systems that commit
 * directories separately; the default makes the rename one op, durable
 * with either directory.
 */
#define SIMFS_SPLIT_XDIR   0x8u
/* A rename between two different directories fails with EXDEV. */
#define SIMFS_XDEV         0x10u
/* No /proc/sys/kernel/random/boot_id: reading it fails with ENOENT. */
#define SIMFS_NO_BOOT_ID   0x20u

/* Mutations of the barriers, for the harness's self-test. */
enum simfs_mutant {
	SIMFS_MUT_NONE,
	SIMFS_MUT_SKIP,  /* the n-th sync returns 0 and forces nothing */
	SIMFS_MUT_DEFER, /* the n-th file sync runs after the next publish */
	/*
	 * With SIMFS_FUSE: statfs says ext4, so the library trusts syncfs
	 * on FUSE (which still makes nothing durable).  mutant_n unused.
	 */
	SIMFS_MUT_TRUST_SYNCFS,
};

struct simfs_opts {
	unsigned int features; /* SIMFS_NO_* */
	uint64_t seed;         /* getrandom and state sampling */
	enum simfs_mutant mutant;
	unsigned int mutant_n; /* 1-based index among the sync calls */
	/*
	 * Fault injection: the fault_at-th event (1-based; 0: none) fails
	 * with fault_err and changes nothing; with fault_persist every
	 * later call of the same name fails too.  A failed fsync, fdatasync
	 * or syncfs follows Linux (fsyncgate): what it covered may or may
	 * not reach the disk, no later barrier forces it, the next sync
	 * succeeds.  A failed close still closes.
	 */
	size_t fault_at;
	int fault_err;
	bool fault_persist;
	/* With fault_err set: a faulted write transfers half its bytes. */
	bool fault_short;
};

struct simfs;

struct simfs *simfs_new(const struct simfs_opts *o);
void simfs_free(struct simfs *fs);

/* Route afile__sys to @fs (NULL: back to the real system calls). */
void simfs_install(struct simfs *fs);

/* Events recorded so far: crash points are 0..simfs_events(). */
size_t simfs_events(const struct simfs *fs);
/* Sync calls (fsync, fdatasync, syncfs) seen so far, mutated or not. */
unsigned int simfs_syncs(const struct simfs *fs);
/* File syncs (not of a directory) among them. */
unsigned int simfs_file_syncs(const struct simfs *fs);
/* Is the n-th sync call a file sync?  For choosing mutants. */
bool simfs_sync_is_file(const struct simfs *fs, unsigned int n);
/*
 * What the n-th sync call synced, the same in every run of a workload:
 * "fsync d/<temp>", "fsync dir d #2", "syncfs"...  The sync site.
 */
const char *simfs_sync_desc(const struct simfs *fs, unsigned int n);
/* The name of the call that was event @ev (0-based), e.g. "openat". */
const char *simfs_event_call(const struct simfs *fs, size_t ev);
/* Faults injected so far (o.fault_at and its persistent repeats). */
unsigned int simfs_faults(const struct simfs *fs);
/* Descriptors open now (after a call returned: 0, or it leaked some). */
size_t simfs_open_fds(const struct simfs *fs);

/*
 * Direct helpers for setting up and inspecting a tree, without going
 * through the table and without recording events.  They act on the
 * volatile image; simfs_sync_all() then makes everything durable.
 * Paths are relative to the root.
 */
int simfs_put(struct simfs *fs, const char *path, const void *buf, size_t len,
    mode_t mode);
int simfs_mkdir(struct simfs *fs, const char *path, mode_t mode);
void simfs_sync_all(struct simfs *fs);
/* 0 and a malloc()ed copy, -ENOENT, or -EISDIR. */
int simfs_get(struct simfs *fs, const char *path, char **buf, size_t *len);
/* Stat of @path in the volatile image: 0 or -errno. */
struct stat;
int simfs_stat(struct simfs *fs, const char *path, struct stat *st);
/* One line per entry of directory @path, sorted: "name=content-digest". */
char *simfs_describe_dir(struct simfs *fs, const char *path);

/*
 * Crash-state enumeration.  For crash point @p, calls @visit with every
 * legal durable state (a fresh simfs, freed after the call) and its index;
 * stops at the first nonzero return and returns it.  *@count is increased
 * by the number of states visited.  All subsets of the pending micro-ops
 * when there are at most SIMFS_EXHAUSTIVE_MAX of them, else the
 * structured states plus SIMFS_SAMPLES seeded random ones.
 */
#define SIMFS_EXHAUSTIVE_MAX 12
#define SIMFS_SAMPLES        200

int simfs_each_state(const struct simfs *fs, size_t p,
    int (*visit)(struct simfs *crashed, size_t index, void *arg), void *arg,
    uint64_t *count);
/* Pending micro-ops at crash point @p (for messages). */
size_t simfs_pending(const struct simfs *fs, size_t p);

#endif
