/* SPDX-License-Identifier: MIT */
/*
 * internal.h - declarations shared between the library's modules.
 *
 * Layers.  A file calls only into its own layer and the ones below it,
 * and the files' calls draw no circle: a file may call another of its own
 * layer, but nothing that calls it back.  tests/check-layers.sh reads the
 * table below and fails when an object file uses a symbol defined in a
 * higher layer, when the graph of the objects' symbol uses has a cycle,
 * when a source includes a header of a higher layer, when a file of src/
 * is in no layer, or when the CLI (tools/) uses more than the public API.
 *
 *   0 sys     sys.c wrap.c stats.c sys.h stats.h
 *   1 base    op.c error.c path.c meta.c tmp.c sync.c fstype.c
 *   1 base    cleanup.c lock.c journal.c internal.h journal.h syncmany.c
 *   1 base    redo.c redo.h crc32c.c
 *   2 writer  writer.c
 *   3 ops     ops.c update.c view.c probe.c inplace.c patch.c
 *   4 txn     apply.c recover.c txn.c commit.c snapshot.c batch.c txn.h
 *   5 api     api.c
 *
 * 0 sys: the syscall table (sys.c, the only file that calls the OS), its
 *   -errno wrappers (wrap.c) and the statistics counters they bump.
 * 1 base: the per-call context (op.c, error.c), path resolution, metadata,
 *   temp files, durability, the file-system table, the sweepers
 *   (cleanup.c), locks on sidecars (lock.c: the writer takes AFILE_LOCK's
 *   lock, so locks sit below it), the journal's bytes (journal.c), the
 *   in-place patches' redo log's bytes (redo.c) and their checksum
 *   (crc32c.c).
 * 2 writer: the one temp-sync-publish-sync protocol (writer.c).
 * 3 ops: the one-shot operations and the read path (ops.c), in-place
 *   patches and the cooperating read's open (inplace.c) under the choice
 *   between in-place and copy patches (patch.c), the probe
 *   of what a file system supports (probe.c), stale-view checks (view.c) and
 *   read-modify-write (update.c).
 * 4 txn: transactions (txn.h lists the files and their order) and
 *   batches (batch.c).
 * 5 api: the public calls that join layers (api.c: reads that run the
 *   transaction layer's hot-journal check).
 *
 * Where a lower layer must reach a higher one, the higher one hands it a
 * hook: a writer publishes through the owner a transaction sets on it
 * (struct afile__writer_owner), and the read path runs the check that
 * api.c passes (afile__before_read).  Every public function is defined in
 * the layer that does its work.
 */
#ifndef AFILE_INTERNAL_H
#define AFILE_INTERNAL_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "atomicfile.h"
#include "stats.h"
#include "sys.h"

#ifndef NAME_MAX
#define NAME_MAX 255
#endif

#define AFILE__TMP_SUFFIX ".afile-tmp"
/*
 * Staged temps of a transaction: swept only by its recovery, never by the
 * lock-based sweepers, because after a crash past the commit point they
 * are unlocked and yet still needed.
 */
#define AFILE__TXN_SUFFIX ".afile-txn"

/* ------------------------------------------------------------------
 * Per-call context: options, durability reached and error detail
 * ------------------------------------------------------------------ */

/*
 * The options are copied out of struct afile_opts, which a writer's caller
 * may free after afile_writer_open(); only the caller's result pointers
 * (@err, @ret_sync) are kept.
 */
struct afile__op {
	unsigned int sync;     /* requested enum afile_sync */
	unsigned int achieved; /* level reached so far */
	mode_t mode;           /* with AFILE_SET_MODE */
	uint64_t size_hint;
	struct afile_errinfo *err; /* caller's, or NULL */
	bool failed;               /* err was filled: the first failure wins */
	bool have_euid;            /* euid below is known (a batch asks once) */
	/*
	 * Transactions: temps are created under names this makes, directly
	 * (no O_TMPFILE, no lock: see txn.c), instead of the usual way.
	 */
	int (*stage_name)(void *ctx, const char *target, char *out);
	void *stage_ctx;
	uid_t euid;
	/*
	 * The kernel's fs.protected_{symlinks,regular,fifos} as read once
	 * per call (path.c): 0 = not read yet, else the value + 1.
	 */
	unsigned char protected[3];
	unsigned int *ret_sync; /* caller's, or NULL */
	int (*progress)(uint64_t done, uint64_t total, void *ctx);
	void *progress_ctx;
	int lock_wait_ms;
};

/* Internal flag bits, never accepted from callers. */
#define AFILE__MUST_EXIST 0x80000000u /* patch: -ENOENT if no target */
#define AFILE__NO_SWEEP   0x40000000u /* batches: the caller sweeps */
#define AFILE__AT         0x20000000u /* path is a name in dirfd, no lookup */
/* path is a name in dirfd, an open directory the caller keeps (batches) */
#define AFILE__IN_DIR     0x10000000u
#define AFILE__PUBLIC_FLAGS                                             \
	(AFILE_NOREPLACE | AFILE_NOFOLLOW | AFILE_BREAK_HARDLINKS |     \
	    AFILE_OWNER_BEST_EFFORT | AFILE_EXCHANGE | AFILE_SET_MODE | \
	    AFILE_LOCK | AFILE_INPLACE)

/*
 * Check flags against @allowed and the options struct, and fill @op.
 * Returns 0 or -EINVAL.
 */
AFILE_HIDDEN int afile__op_init(struct afile__op *op, unsigned int flags,
    unsigned int allowed, const struct afile_opts *opts);

/*
 * Record where an operation failed (the first failure wins) and return
 * @code, so that error paths read "return afile__fail(op, r, ...)".
 */
AFILE_HIDDEN int afile__fail(
    struct afile__op *op, int code, const char *step, const char *path);
/* As afile__fail(), for a library code with an errno behind it. */
AFILE_HIDDEN int afile__fail_cause(struct afile__op *op, int code, int cause,
    const char *step, const char *path);

/* The effective uid, asked of the kernel once per operation or batch. */
AFILE_HIDDEN uid_t afile__op_euid(struct afile__op *op);

/* Count a finished public call and report the durability reached. */
AFILE_HIDDEN int afile__op_done(struct afile__op *op, int r);

/* ------------------------------------------------------------------
 * Path resolution (path.c)
 * ------------------------------------------------------------------ */

/*
 * struct afile__target - a name inside an open directory
 * @dfd:    the directory, opened O_RDONLY|O_DIRECTORY (it can be synced)
 * @name:   the last component
 * @exists: whether @name existed when resolved; then @st is its lstat
 * @shown:  the path as resolved, for error messages
 */
struct afile__target {
	int dfd;
	bool borrowed; /* @dfd belongs to the caller: do not close it */
	bool exists;
	struct stat st;
	char name[NAME_MAX + 1];
	char shown[4096];
};

/*
 * Resolve @path relative to @dirfd.  With @follow, symlinks at the last
 * component are followed (at most 40), so that the result names the final
 * file (which need not exist).  Returns 0 or -errno; on failure nothing is
 * open.
 */
AFILE_HIDDEN int afile__target_open(struct afile__op *op, int dirfd,
    const char *path, bool follow, struct afile__target *t);
/*
 * afile__target_open() whose @t->st holds no timestamps, for a caller that
 * writes the file next (sys.h, AFILE__AT_NOTIME): in-place patches.
 */
AFILE_HIDDEN int afile__target_open_notime(struct afile__op *op, int dirfd,
    const char *path, bool follow, struct afile__target *t);
AFILE_HIDDEN void afile__target_close(struct afile__target *t);
/* The name @name inside the caller's open directory @dfd (borrowed). */
AFILE_HIDDEN int afile__target_at(
    struct afile__op *op, int dfd, const char *name, struct afile__target *t);
/*
 * The kernel's rule for files planted in sticky directories others can
 * write (fs.protected_regular, fs.protected_fifos): may this caller
 * replace or reuse the existing file @st (lstat of a name in @dfd)?
 * 0, or AFILE_EPROTECTED (cause -EACCES) with @shown in the detail.
 * Non-regular files other than FIFOs, such as the journal directory,
 * always follow the rule.
 */
AFILE_HIDDEN int afile__check_planted(
    struct afile__op *op, int dfd, const struct stat *st, const char *shown);
/* afile__check_planted() for @t's existing target (no-op when absent). */
AFILE_HIDDEN int afile__target_check_planted(
    struct afile__op *op, const struct afile__target *t);
/*
 * Open (creating with O_CREAT in @flags) a file of the library's own,
 * such as a lock sidecar, in a directory others may write: never through
 * a symlink, never blocking on a FIFO, only a regular file (else
 * AFILE_ENOTREG), and not one planted by another user in a sticky
 * directory (AFILE_EPROTECTED).  Returns the descriptor or an error,
 * without error detail; the file's fstat in *@ret_st (NULL: not wanted).
 */
AFILE_HIDDEN int afile__open_own(struct afile__op *op, int dfd,
    const char *name, int flags, mode_t mode, struct stat *ret_st);

/* ------------------------------------------------------------------
 * Metadata (meta.c)
 * ------------------------------------------------------------------ */

/*
 * struct afile__meta - what a replaced or copied file must keep
 * @st:     mode, owner, group, times
 * @xattrs: packed "name\0" u32-length value records, @xattrs_len bytes
 */
struct afile__meta {
	struct stat st;
	char *xattrs;
	size_t xattrs_len;
};

/*
 * Capture from an open file descriptor (any mode but O_PATH); @st, when
 * not NULL, is the file's stat already taken.
 */
AFILE_HIDDEN int afile__meta_capture(struct afile__op *op,
    struct afile__meta *m, int fd, const struct stat *st, const char *shown);
/* Capture the metadata of @t's existing name (opened for the purpose). */
AFILE_HIDDEN int afile__meta_capture_target(
    struct afile__op *op, struct afile__meta *m, const struct afile__target *t);
/*
 * Give @fd the owner and group of @m; see the policy in meta.c.  @now,
 * when not NULL, is @fd's stat: an owner it already has is not applied.
 */
AFILE_HIDDEN int afile__meta_apply_owner(struct afile__op *op,
    const struct afile__meta *m, int fd, bool best_effort,
    const struct stat *now, const char *shown);
/* Give @fd the extended attributes (and so ACLs and label) of @m. */
AFILE_HIDDEN int afile__meta_apply_xattrs(struct afile__op *op,
    const struct afile__meta *m, int fd, const char *shown);
AFILE_HIDDEN void afile__meta_done(struct afile__meta *m);

/* ------------------------------------------------------------------
 * Temporary files (tmp.c)
 * ------------------------------------------------------------------ */

/*
 * struct afile__tmp - the new version being written
 * @fd:    open O_RDWR
 * @named: whether @name exists in the directory (false for an O_TMPFILE
 *         that has not been linked yet)
 * @slot:  its entry in the signal-cleanup registry, or -1
 * @name:  the hidden temp name, once it has one
 */
struct afile__tmp {
	int fd;
	bool named;
	int slot;
	char name[NAME_MAX + 1];
};

/*
 * ".TARGET" + @tail, with TARGET cut and hashed when the whole would not
 * fit in NAME_MAX: the names of temps and lock sidecars.
 */
AFILE_HIDDEN int afile__hidden_name(
    const char *target, const char *tail, char out[NAME_MAX + 1]);
/* The tail of a lock sidecar's name (lock.c): ".TARGET.afile-lock". */
#define AFILE__LOCK_SUFFIX ".afile-lock"
/* A fresh random temp name for @target. */
AFILE_HIDDEN int afile__tmp_name(
    const char *target, const char *suffix, char name[NAME_MAX + 1]);
/* Is @entry a temp name with the prefix ".TARGET." of some target? */
AFILE_HIDDEN bool afile__is_tmp_of(const char *entry, const char *prefix);
/*
 * Create a temp file in @dfd for target @target: O_TMPFILE with
 * @unnamed_mode where the file system has it, else a random hidden name
 * with @mode, locked.
 */
AFILE_HIDDEN int afile__tmp_create(struct afile__op *op, int dfd,
    const char *target, mode_t mode, mode_t unnamed_mode,
    struct afile__tmp *tmp);
/* Link the temp under the name @name in @dfd (-EEXIST if taken). */
AFILE_HIDDEN int afile__tmp_link(
    int dfd, struct afile__tmp *tmp, const char *name);
/* Link an unnamed temp under a fresh random name beside @target, locked. */
AFILE_HIDDEN int afile__tmp_give_name(
    int dfd, struct afile__tmp *tmp, const char *target);
/* Encode @v in @n characters of the temp-name alphabet. */
AFILE_HIDDEN void afile__name_chars(uint64_t v, char *out, size_t n);
/* The temp's name became the target's: forget it. */
AFILE_HIDDEN void afile__tmp_published(struct afile__tmp *tmp);
/*
 * Remove the temp's name, if any, and close it.  The temp is forgotten
 * either way; returns 0, or the error of an unlink that left the name
 * (callers that promised to remove it keep a record that names it).
 */
AFILE_HIDDEN int afile__tmp_discard(int dfd, struct afile__tmp *tmp);

/* ------------------------------------------------------------------
 * Sweeping abandoned temps (cleanup.c) and locks (lock.c)
 * ------------------------------------------------------------------ */

/*
 * Remove the abandoned temps of @target in @dfd (whose directory offset
 * it moves) but the caller's own @own (may be NULL): reads at most one
 * buffer of entries, so that a huge directory costs one system call;
 * afile_cleanup() is thorough.
 */
AFILE_HIDDEN void afile__sweep_target(
    int dfd, const char *target, const char *own);
/*
 * Should a writer whose temp is @named (or unnamed) sweep its target's
 * abandoned temps now?  Always where temps have names (and under a test's
 * syscall table, so that call traces do not depend on what ran before);
 * else at the process's first replace and every 32nd after.
 */
AFILE_HIDDEN bool afile__sweep_due(bool named);

/*
 * Count (or, with @remove, remove) the staged temps of the transaction
 * tagged @tag in the directory @dfd, adding how many to *@found.
 * Returns 0, or the first error (opening or reading the directory, or
 * removing a temp): then some may be left, and the caller must keep what
 * lets a later recovery find them.
 */
AFILE_HIDDEN int afile__find_tagged(
    int dfd, const char *tag, bool remove, uint64_t *found);
/*
 * Take the lock of the name @name in @dfd: *@ret_fd receives the
 * sidecar's descriptor (-1 on failure).  @wait_ms: -1 forever, 0 once,
 * > 0 at most.
 */
AFILE_HIDDEN int afile__lock_name(struct afile__op *op, int dfd,
    const char *name, const char *shown, unsigned int mode, int wait_ms,
    int *ret_fd);
/*
 * Take the lock of @name again on its sidecar *@fd (of identity @st),
 * which afile__lock_name_again() opened and locked before and which was
 * unlocked since; where the sidecar was removed or replaced meanwhile, or
 * *@fd is -1, the lock is taken on a sidecar opened anew, whose
 * descriptor and identity replace *@fd and *@st (@st may be NULL then).
 * On failure *@fd is closed and -1.
 */
AFILE_HIDDEN int afile__lock_name_again(struct afile__op *op, int dfd,
    const char *name, const char *shown, unsigned int mode, int wait_ms,
    int *fd, struct stat *st);
/*
 * AFILE_LOCK: take @t's exclusive lock as @op says, then look at the
 * target again (*@ret_fd receives the lock, -1 on failure).
 */
AFILE_HIDDEN int afile__target_lock(
    struct afile__op *op, struct afile__target *t, int *ret_fd);
/* Make a lock handle of a held sidecar descriptor (owned from then on). */
AFILE_HIDDEN int afile__lock_wrap(int fd, struct afile_lock **ret_lock);
/* opts->lock_wait_ms (0 = forever, -1 = try) as afile__lock_name() wants. */
AFILE_HIDDEN int afile__wait_ms(const struct afile__op *op);

/* ------------------------------------------------------------------
 * Durability (sync.c)
 * ------------------------------------------------------------------ */

/*
 * Sync a file before it is published, per @op->sync; @meta says whether
 * inode metadata (mode, owner, xattrs) was changed and must be synced too.
 */
AFILE_HIDDEN int afile__sync_file(struct afile__op *op, int fd, bool meta);
/*
 * The temp's sync before a rename that a directory sync will follow:
 * afile__sync_file(), or under AFILE_SYNC_FULL where afile__one_flush()
 * allows it only a write-back (*@ret_one_flush set), after which the
 * caller must fsync the directory itself (afile__fsync_dir()): neither
 * skipped nor downgraded, any failure is one.
 */
AFILE_HIDDEN int afile__sync_temp(struct afile__op *op, int fd, bool meta,
    const struct stat *st, bool *ret_one_flush);
/* Sync a directory after a name in it changed, per @op->sync. */
AFILE_HIDDEN int afile__sync_dir(struct afile__op *op, int dfd);
/*
 * fsync of a directory where it must happen whatever the level (the
 * transaction protocol): a file system that refuses it (EINVAL, as some
 * FUSE servers do) lowers the level reached to AFILE_SYNC_DATA instead
 * of failing.
 */
AFILE_HIDDEN int afile__sync_dir_lax(struct afile__op *op, int dfd);

/*
 * "Not supported" (-ENOTSUP or -EOPNOTSUPP: one value on Linux, two
 * elsewhere; one test, so that no branch exists that cannot be taken).
 */
static inline bool
afile__unsupported(long r)
{
#if ENOTSUP != EOPNOTSUPP
	if (r == -ENOTSUP)
		return true;
#endif
	return r == -EOPNOTSUPP;
}

/* ------------------------------------------------------------------
 * File system types (fstype.c): what may be trusted where
 * ------------------------------------------------------------------ */

/* syncfs(2) makes every file of the file system durable (power-cut tested). */
#define AFILE__FS_SYNCFS   0x1u
/* Memory only: nothing survives a power cut whatever is synced. */
#define AFILE__FS_VOLATILE 0x2u
/* A FUSE file system: each primitive is what its server makes of it. */
#define AFILE__FS_FUSE     0x4u
/* Served by another machine; clients may cache names, attributes, data. */
#define AFILE__FS_NETWORK  0x8u
/*
 * A directory fsync is a log commit, with a device flush, of every
 * metadata change made before it: a candidate for one-flush replaces,
 * subject to the mount's own checks (afile__one_flush()).
 */
#define AFILE__FS_LOGGED   0x10u

struct afile__fstype {
	unsigned long magic; /* statfs f_type */
	const char *name;    /* "ext4", ..., "unknown" */
	unsigned int flags;  /* AFILE__FS_* */
};

/* The entry for @magic; an "unknown" entry with no flags if not listed. */
AFILE_HIDDEN const struct afile__fstype *afile__fstype(unsigned long magic);
/*
 * The entry for the file system holding @fd into *@ret (never NULL: the
 * "unknown" entry on failure).  Returns 0, or the fstatfs error.
 */
AFILE_HIDDEN int afile__fstype_of(int fd, const struct afile__fstype **ret);
/*
 * One-flush replaces (fstype.c): may the temp of a replace be written
 * back without a flush (afile__writeback_wait()) and the directory fsync
 * after the rename be its only sync?  @st: a stat of a file on that file
 * system (its st_dev keys a per-process cache), or NULL to fstat @fd.
 * False on any doubt.
 */
AFILE_HIDDEN bool afile__one_flush(int fd, const struct stat *st);
/*
 * The same decision, uncached, with the reason ("ext4, journal
 * data=ordered", "no journal", ...) for afile_probe().
 */
AFILE_HIDDEN bool afile__one_flush_why(int fd, const char **ret_why);

/*
 * Many files durable at once (syncmany.c).  afile__each() runs
 * @one(@ctx, k) for every k < @n on a small pool of threads joined before
 * it returns; 0, or the first failure with its item in *@ret_bad.
 * afile__use_syncfs(): may one syncfs(2) on @fd stand for an fsync of
 * every file of its file system (the fstype.c allowlist), and is it
 * cheaper than an fsync per file (little dirty data system-wide)?
 */
AFILE_HIDDEN int afile__each(
    size_t n, int (*one)(void *ctx, size_t k), void *ctx, size_t *ret_bad);
AFILE_HIDDEN bool afile__use_syncfs(int fd);

/* ------------------------------------------------------------------
 * Writer internals (writer.c), for copy and patch
 * ------------------------------------------------------------------ */

/*
 * Open a writer.  When @meta_from is not NULL, the new file takes that
 * metadata (with its times) instead of the target's, and an owner that
 * cannot be set is ignored, as cp -p does.
 */
AFILE_HIDDEN int afile__writer_open(struct afile__op *op, int dirfd,
    const char *path, unsigned int flags, const struct afile__meta *meta_from,
    struct afile_writer **ret_writer);
/*
 * The same in @mem, afile__writer_size() bytes the caller owns (NULL:
 * allocated): afile_writer_free() then releases all but the memory.  A
 * batch places its writers in one block, whose pages glibc keeps from
 * one batch to the next, where a thousand small allocations were given
 * back and faulted in again each time.
 */
AFILE_HIDDEN int afile__writer_open_in(void *mem, struct afile__op *op,
    int dirfd, const char *path, unsigned int flags,
    const struct afile__meta *meta_from, struct afile_writer **ret_writer);
AFILE_HIDDEN size_t afile__writer_size(void);
/* Fill the temp with the contents of @src_fd (@size bytes). */
AFILE_HIDDEN int afile__writer_fill(
    struct afile_writer *w, int src_fd, uint64_t size);
AFILE_HIDDEN int afile__writer_pwrite(
    struct afile_writer *w, const void *buf, size_t len, uint64_t off);
AFILE_HIDDEN int afile__writer_commit(struct afile_writer *w);
/*
 * The steps of a commit, for batches that share the syncs: prepare
 * (final mode and times), sync the temp, publish it, sync its directory.
 * Each failure but the last discards the temp, as a commit does.
 */
AFILE_HIDDEN int afile__writer_prepare(struct afile_writer *w);
AFILE_HIDDEN int afile__writer_sync(struct afile_writer *w);
AFILE_HIDDEN int afile__writer_publish(struct afile_writer *w);
AFILE_HIDDEN int afile__writer_sync_dir(struct afile_writer *w);
/*
 * Prepare the temp and give it a name, then hand it over to a
 * transaction: *@ret_tmp owns it (open, locked, registered); the writer
 * is done.
 */
AFILE_HIDDEN int afile__writer_stage(
    struct afile_writer *w, struct afile__tmp *ret_tmp);
/* Read all of @fd into a malloc()ed, NUL-terminated buffer. */
AFILE_HIDDEN int afile__read_fd(int fd, char **ret_buf, size_t *ret_len);

/* ------------------------------------------------------------------
 * The read path and read-modify-write (ops.c, update.c)
 * ------------------------------------------------------------------ */

/*
 * A check run before a read looks at @dirfd: the public afile_read() and
 * afile_update() (api.c) pass the transaction layer's hot-journal check,
 * which the operations layer cannot name.  0 or a library error.
 */
typedef int afile__before_read(struct afile__op *op, int dirfd);
/* afile_read(), with @before (may be NULL) run before the open. */
AFILE_HIDDEN int afile__read_file(int dirfd, const char *path, void **ret_buf,
    size_t *ret_len, unsigned int flags, const struct afile_opts *opts,
    afile__before_read *before);
/* afile_update(), whose read of the old contents runs @before first. */
AFILE_HIDDEN int afile__update(int dirfd, const char *path,
    int (*fn)(
	void *ctx, const void *old, size_t old_len, struct afile_writer *w),
    void *ctx, unsigned int flags, const struct afile_opts *opts,
    afile__before_read *before);
/*
 * struct afile__writer_owner - what a writer publishes through instead of
 * its target, set by the layer that owns it (a transaction, for
 * afile_txn_writer()), so that the writer knows no layer above it.
 * @commit: afile_writer_commit() hands the writer over here;
 * @drop:   afile_writer_free() without a commit tells the owner first.
 */
struct afile__writer_owner {
	int (*commit)(void *ctx, struct afile_writer *w);
	void (*drop)(void *ctx, struct afile_writer *w);
};
/* Set (or, with NULL, clear) the owner of @w; @ctx is passed back. */
AFILE_HIDDEN void afile__writer_set_owner(
    struct afile_writer *w, const struct afile__writer_owner *owner, void *ctx);
/* The writer's owner is going away: discard, and fail from now on. */
AFILE_HIDDEN void afile__writer_orphan(struct afile_writer *w);
/* Commit (if @r is 0), hand the writer's result back to @op, free it. */
AFILE_HIDDEN int afile__writer_finish(
    struct afile__op *op, struct afile_writer *w, int r);
/* The writer's own context (error detail, durability reached). */
AFILE_HIDDEN struct afile__op *afile__writer_op(struct afile_writer *w);
/* The target the writer resolved. */
AFILE_HIDDEN const struct afile__target *afile__writer_target(
    const struct afile_writer *w);
/* The held sidecar lock (AFILE_LOCK), or -1. */
AFILE_HIDDEN int afile__writer_lock_fd(const struct afile_writer *w);

/* ------------------------------------------------------------------
 * Stale views of other clients' updates (view.c), for afile_update()
 * ------------------------------------------------------------------ */

/* One version of a file, as every client of a shared file system sees it. */
struct afile__ident {
	bool exists;
	uint64_t ino;
	uint64_t size;
	int64_t mtime_s;
	int64_t mtime_ns;
	int64_t ctime_s; /* not part of the identity: orders versions */
	int64_t ctime_ns;
};

struct afile__view {
	bool check;       /* the file system may show stale views */
	bool have_record; /* the sidecar held a valid record */
	struct afile__ident prev, cur; /* the record: replaced, published */
	struct afile__ident seen;      /* the version read */
};

AFILE_HIDDEN void afile__ident_of(
    const struct stat *st, struct afile__ident *id);
AFILE_HIDDEN bool afile__ident_same(
    const struct afile__ident *a, const struct afile__ident *b);
/* The record's bytes (a line); 0 if it does not fit in @n. */
AFILE_HIDDEN size_t afile__view_record_format(const struct afile__ident *prev,
    const struct afile__ident *cur, char *buf, size_t n);
/* 0, or -EINVAL for a torn, foreign or damaged record. */
AFILE_HIDDEN int afile__view_record_parse(const char *buf, size_t len,
    struct afile__ident *prev, struct afile__ident *cur);
/*
 * Under the exclusive lock on @lock_fd (opened for this call): read
 * @name in @dfd (absent: *@ret_old NULL), waiting out a stale view or
 * ESTALE, bounded; -ESTALE if it does not go.  Fills *@v.
 */
AFILE_HIDDEN int afile__view_read(struct afile__op *op, int lock_fd, int dfd,
    const char *name, const char *shown, struct afile__view *v, void **ret_old,
    size_t *ret_len);
/* As afile__writer_finish(), recording the published version in @v's lock. */
AFILE_HIDDEN int afile__view_finish(struct afile__op *op,
    struct afile_writer *w, int r, const struct afile__view *v);

/* ------------------------------------------------------------------
 * In-place patches (inplace.c)
 * ------------------------------------------------------------------ */

/* The most ranges one afile_patchv() takes (one redo record holds them). */
#define AFILE__PATCH_MAX_RANGES 65536u
/*
 * A redo log longer than this is checkpointed (the file synced, the log
 * started again) before its next record; 1 MiB.  Tests lower it.
 */
extern AFILE_HIDDEN uint64_t afile__inplace_log_max;

/* AFILE_INPLACE: redo record, sync, write in place (arguments checked). */
AFILE_HIDDEN int afile__inplace_patch(struct afile__op *op, int dirfd,
    const char *path, const struct afile_range *rg, size_t n,
    unsigned int flags);
/*
 * afile_patcher_open(), _patchv() and _free() (arguments checked): @op of
 * the open is copied for each patch (afile__patcher_op()), which fails
 * into the copy it is given.
 */
AFILE_HIDDEN int afile__patcher_open(struct afile__op *op, int dirfd,
    const char *path, unsigned int flags, struct afile_patcher **ret);
AFILE_HIDDEN const struct afile__op *afile__patcher_op(
    const struct afile_patcher *p);
/* The file's path as errors show it. */
AFILE_HIDDEN const char *afile__patcher_shown(const struct afile_patcher *p);
AFILE_HIDDEN int afile__patcher_patch(struct afile__op *op,
    struct afile_patcher *p, const struct afile_range *rg, size_t n);
AFILE_HIDDEN void afile__patcher_free(struct afile_patcher *p);
/* Replay what @path may lack from its redo log: 1 replayed, 0 none, or error.
 */
AFILE_HIDDEN int afile__inplace_recover(
    struct afile__op *op, int dirfd, const char *path, unsigned int flags);
/*
 * Replay an interrupted in-place patch of @name in @dirfd, if its redo log
 * says so (one fstatat when there is no log): 0 or an error.  For readers that
 * do not open through afile__open_shared() (afile_update's view.c read).
 */
AFILE_HIDDEN int afile__inplace_settle(
    struct afile__op *op, int dirfd, const char *name);
/*
 * Open @path O_RDONLY (| @oflags) for a cooperating read: holds a shared
 * lock of the file (released by closing) and has replayed an interrupted
 * in-place patch first.  Returns the descriptor or an error.
 */
AFILE_HIDDEN int afile__open_shared(struct afile__op *op, int dirfd,
    const char *path, unsigned int flags, int oflags);
/* The copy-based patch (ops.c), arguments checked. */
AFILE_HIDDEN int afile__patch_copy(struct afile__op *op, int dirfd,
    const char *path, const struct afile_range *rg, size_t n,
    unsigned int flags);

#endif /* AFILE_INTERNAL_H */
