/* SPDX-License-Identifier: MIT */
/*
 * atomicfile.h - atomic, crash-safe file operations for Linux.
 *
 * libatomicfile replaces, creates, copies, renames, patches and removes
 * files so that a crash at any moment (an error, kill -9, a power cut)
 * leaves every path with its complete old contents or its complete new
 * contents, never a prefix, never zeros, never a mix.
 *
 * Overview
 * ========
 *
 * Guarantees.  After any call, interrupted anywhere, a path holds either
 * its whole old contents or its whole new contents, together with the
 * metadata it is promised to keep (mode, owner and group, extended
 * attributes, POSIX ACLs, SELinux label).  This assumes that rename(2) is
 * atomic on the file system, which holds for every local Linux file system
 * (ext4, xfs, btrfs, tmpfs, f2fs).  A reader that already has the file
 * open keeps reading the version it opened.
 *
 * Calling sequence.  One-shot calls (afile_write(), afile_copy(), ...)
 * do everything in one call.  Data of any size is streamed with a writer:
 *
 *	struct afile_writer *w = NULL;
 *	int r;
 *
 *	r = afile_writer_open(AT_FDCWD, "config.json", 0, NULL, &w);
 *	if (r < 0)
 *		goto out;
 *	r = afile_writer_write(w, buf, len);
 *	if (r < 0)
 *		goto out;
 *	r = afile_writer_commit(w);	(sync, publish, sync the directory)
 * out:
 *	afile_writer_free(w);		(NULL is fine; discards if uncommitted)
 *
 * State diagram of a writer:
 *
 *	open ---> OPEN --write/fd--> OPEN --commit--> COMMITTED
 *	            |                  |        \
 *	            |             write error    commit error
 *	            |                  v          v
 *	            |               POISONED    FAILED
 *	            |                  |          |
 *	            +------------------+----------+--> free (temp removed)
 *
 * Only afile_writer_free() is valid after commit, whether it succeeded or
 * not.  A writer whose write or sync failed is poisoned: every later call
 * returns AFILE_EPOISONED, because after a failed write-back the kernel
 * may have dropped the data and a retry could falsely succeed.
 *
 * Durability levels (struct afile_opts .sync):
 *	AFILE_SYNC_FULL	(default) when a call returns 0 the new state
 *			survives a power cut: the file is synced before it is
 *			published and its directory after.
 *	AFILE_SYNC_DATA	atomic across a power cut, but the publication
 *			itself may be lost (the old contents come back): the
 *			file is synced, the directory is not.
 *	AFILE_SYNC_NONE	atomic against process crashes only (tmpfs, caches,
 *			tests): nothing is synced.
 * Where the file system refuses a step (a directory fsync returning EINVAL
 * on some FUSE or network file systems), the call still succeeds and the
 * level actually reached is stored in *opts->ret_sync when given.
 *
 * Error handling.  Every call that can fail returns 0 on success or a
 * negative error code: -errno as the kernel reported it (-ENOSPC, -EACCES),
 * or a library code AFILE_E* below -4095 that no errno can equal.  Each
 * function documents the state on disk after a failure.  The rule is: on
 * failure the target is unchanged and no temporary file remains.  The one
 * exception is AFILE_EUNSYNCED: the new contents were published but the
 * final directory sync failed, so they are visible but not known durable.
 * (Where a temp file had a name and removing it failed as well, for
 * instance on a file system that turned read-only, that hidden
 * .NAME.XXXXXXXXXXXX.afile-tmp file stays for a later cleanup.)
 * When opts->err is given it receives the failing step and path, so that
 * a message can name the operation, the path and the reason.
 *
 * Security.  The library follows a symlink at the last component
 * itself; in a sticky directory others can write it follows one only
 * if the caller or the directory's owner owns it, and it does not
 * replace a file owned by neither, nor use such a lock file or
 * .atomicfile/, as the kernel refuses them (fs.protected_symlinks,
 * fs.protected_regular, fs.protected_fifos, read once per call; the
 * rules apply when they cannot be read): AFILE_EPROTECTED, with the
 * rule in opts->err->step.  Elsewhere a replaced file keeps its owner
 * and mode.  Metadata is applied to descriptors, never by name.
 *
 * Thread safety.  Every function is safe to call from several threads on
 * distinct paths.  A handle must not be used by two threads at once.
 * The library never prints, never exits, installs no signal handler and
 * keeps no mutable global state but two: the statistics counters, updated
 * atomically, and a fixed table of this process's long-lived temp names
 * that afile_cleanup_on_signal() reads (updated lock-free).
 */
#ifndef ATOMICFILE_H
#define ATOMICFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------ */

#define AFILE_VERSION_MAJOR  0
#define AFILE_VERSION_MINOR  1
#define AFILE_VERSION_PATCH  0
#define AFILE_VERSION_STRING "0.1.0"
#define AFILE_VERSION_NUMBER                                       \
	(AFILE_VERSION_MAJOR * 10000 + AFILE_VERSION_MINOR * 100 + \
	    AFILE_VERSION_PATCH)

#ifndef AFILE_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define AFILE_API __attribute__((visibility("default")))
#else
#define AFILE_API
#endif
#endif

/*
 * afile_version - the version of the library actually linked
 *
 * Returns AFILE_VERSION_STRING of the library at run time, which may
 * differ from the header a program was compiled with.  Since: 0.1.
 */
AFILE_API const char *afile_version(void);

/* ------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------ */

/*
 * Library error codes, all below -4095 so that they never collide with a
 * negative errno.  X(NAME, VALUE, DESCRIPTION) generates the AFILE_E*
 * constants, afile_strerror() and afile_err_name().
 */
#define AFILE_ERROR_MAP(X)                                                    \
	X(EPOISONED, -5000,                                                   \
	    "a write or sync failed earlier; the handle can only be freed")   \
	X(EUNSYNCED, -5001,                                                   \
	    "published, but the directory sync failed: visible, not known "   \
	    "durable")                                                        \
	X(ENOTREG, -5002, "not a regular file")                               \
	X(EHARDLINKS, -5003,                                                  \
	    "the file has other hard links (replacing would detach them)")    \
	X(ESOURCEKEPT, -5004,                                                 \
	    "copied to the destination, but the source could not be removed") \
	X(ECORRUPT, -5005, "corrupt journal or checksum mismatch")            \
	X(EJOURNAL, -5006, "an unfinished transaction needs recovery")        \
	X(EPROTECTED, -5007,                                                  \
	    "refused: planted by another user in a sticky directory "         \
	    "(fs.protected_symlinks, fs.protected_regular, "                  \
	    "fs.protected_fifos)")

enum afile_error {
#define AFILE__ERR_ENUM(name, value, text) AFILE_##name = (value),
	AFILE_ERROR_MAP(AFILE__ERR_ENUM)
#undef AFILE__ERR_ENUM
};

/*
 * afile_strerror - describe an error code
 * @err: a return value of this library: 0, -errno or AFILE_E*
 *
 * Returns a static string that must not be freed: the description of a
 * library code, the system's description of an errno, "success" for 0,
 * or "unknown error" for a value that is neither.  Thread-safe.
 * Since: 0.1.
 */
AFILE_API const char *afile_strerror(int err);

/*
 * afile_err_name - the symbolic name of an error code
 * @err: a return value of this library
 *
 * Returns a static string such as "ENOSPC" or "AFILE_EUNSYNCED", "OK" for
 * 0, or "UNKNOWN" for a value that is neither an errno nor a library code.
 * Thread-safe.  Since: 0.1.
 */
AFILE_API const char *afile_err_name(int err);

/*
 * struct afile_errinfo - where an operation failed
 * @code:  the value the call returned
 * @cause: the errno (negative) behind a library code, such as the failed
 *         directory sync behind AFILE_EUNSYNCED; otherwise equal to @code
 * @step:  static string naming the failing step, such as "sync temporary
 *         file" or "rename"; never NULL after a failure
 * @path: the path the step acted on, as resolved by the library (a
 *        symlink's target, a temporary file's name); may be empty
 *
 * Filled by any call given opts->err, on failure only.  A writer keeps
 * the pointer: it must stay valid until afile_writer_free().
 */
struct afile_errinfo {
	int code;
	int cause;
	const char *step;
	char path[4096];
};

/* ------------------------------------------------------------------
 * Flags and options
 * ------------------------------------------------------------------ */

/* Fail with -EEXIST if the target exists (create; rename without clobber). */
#define AFILE_NOREPLACE         0x0001u
/* Act on a symlink at the target itself instead of the file it names. */
#define AFILE_NOFOLLOW          0x0002u
/* Replace a file that has other hard links, detaching them. */
#define AFILE_BREAK_HARDLINKS   0x0004u
/* Let the owner or group change when the caller cannot restore them. */
#define AFILE_OWNER_BEST_EFFORT 0x0008u
/* afile_rename(): swap the two paths atomically. */
#define AFILE_EXCHANGE          0x0010u
/* Give the file exactly opts->mode, unmasked, when new and on replace. */
#define AFILE_SET_MODE          0x0020u
/*
 * Hold the target's exclusive lock (see afile_lock_acquire()) for the
 * whole operation, waiting as opts->lock_wait_ms says, so that it is
 * serialized with every other locker of the same file.
 */
#define AFILE_LOCK              0x0040u
/*
 * afile_patch(), afile_patchv(): write the bytes into the file itself,
 * behind a redo log, instead of publishing a patched copy: the cost
 * follows the size of the change on every file system.  See
 * afile_patch() for what readers can see.
 */
#define AFILE_INPLACE           0x0080u

/* Durability levels; see the overview. */
enum afile_sync {
	AFILE_SYNC_FULL = 0,
	AFILE_SYNC_DATA = 1,
	AFILE_SYNC_NONE = 2,
};

/*
 * struct afile_opts - optional settings; pass NULL for the defaults
 * @size:      must be sizeof(struct afile_opts); another value gives
 *             -EINVAL, so that a newer caller fails loudly on an older
 *             library
 * @sync:      an enum afile_sync; 0 is AFILE_SYNC_FULL
 * @mode:      with AFILE_SET_MODE, the exact permission bits (07777)
 * @size_hint: expected final size for a writer, 0 if unknown; space is
 *             reserved up front so that a full disk fails before any data
 *             is written
 * @ret_sync:  when not NULL, receives the durability level actually
 *             reached on success (a writer keeps the pointer until
 *             afile_writer_free())
 * @err:       when not NULL, receives the failing step and path on failure
 * @progress:  when not NULL, afile_copy() calls it after each chunk with
 *             the bytes copied so far and the total; a nonzero return
 *             cancels the copy with -ECANCELED
 * @progress_ctx: passed to @progress
 * @lock_wait_ms: for AFILE_LOCK and afile_update(): 0 waits for the lock
 *             as long as it takes, a positive value at most that many
 *             milliseconds, AFILE_LOCK_TRY (-1) not at all; a lock not
 *             acquired in time gives -ETIMEDOUT (-EAGAIN for a try)
 *
 * Initialize with AFILE_OPTS_INIT (C) or memset() and set .size (C++).
 */
struct afile_opts {
	size_t size;
	unsigned int sync;
	mode_t mode;
	uint64_t size_hint;
	unsigned int *ret_sync;
	struct afile_errinfo *err;
	int (*progress)(uint64_t done, uint64_t total, void *ctx);
	void *progress_ctx;
	int lock_wait_ms;
};

#define AFILE_LOCK_TRY (-1)

/* clang-format off */
#define AFILE_OPTS_INIT {.size = sizeof(struct afile_opts)}
/* clang-format on */

/* ------------------------------------------------------------------
 * One-shot operations
 *
 * Common errors of every mutating call:
 *   -EINVAL       NULL where a pointer is required, unknown flag bits, a
 *                 bad opts->size or opts->sync, an empty path or one
 *                 ending in '/' or naming "." or ".."
 *   -ENOENT       a directory on the way to the path does not exist
 *   -ENOTDIR      a component of the path is not a directory
 *   -EACCES       no write or search permission on the directory; checked
 *                 before any data is written
 *   -EPERM        the owner or group of the target cannot be restored by
 *                 this caller (see AFILE_OWNER_BEST_EFFORT), or a sticky
 *                 directory forbids replacing another user's file
 *   -EROFS        the file system is read-only
 *   -ENOSPC, -EDQUOT  out of space or quota
 *   -EIO          an I/O error from the device
 *   -ELOOP        too many symbolic links
 *   -ENAMETOOLONG a name longer than NAME_MAX
 *   -ENOMEM       out of memory
 *   AFILE_EPROTECTED  in a sticky directory others can write (/tmp), a
 *                 symlink, file, lock file or .atomicfile/ planted by
 *                 another user, refused as the kernel refuses it
 *                 (fs.protected_symlinks/regular/fifos; see Security)
 *   AFILE_EUNSYNCED  see the overview
 * ------------------------------------------------------------------ */

/*
 * afile_write - create or atomically replace a file
 * @dirfd: directory that @path is relative to, or AT_FDCWD
 * @path:  target file; its directory must exist
 * @buf:   new contents, @len bytes (may be NULL if @len is 0)
 * @len:   length of @buf
 * @flags: AFILE_NOREPLACE, AFILE_NOFOLLOW, AFILE_BREAK_HARDLINKS,
 *         AFILE_OWNER_BEST_EFFORT, AFILE_SET_MODE, AFILE_LOCK
 * @opts:  NULL for defaults
 *
 * Writes the data to a temporary file beside the target, applies the
 * target's metadata, syncs it, and renames it over the target (or links
 * it, with AFILE_NOREPLACE), then syncs the directory.  A symlink at
 * @path is followed to the file it names unless AFILE_NOFOLLOW is given;
 * a dangling symlink's target is created.  A new file gets
 * 0666 & ~umask (or the directory's default ACL); a replaced one keeps its
 * mode, owner, group, extended attributes, ACLs and SELinux label.
 *
 * Returns 0 or a negative error code; besides the common ones:
 *   -EEXIST          AFILE_NOREPLACE and the target exists
 *   -EISDIR          the target is a directory
 *   AFILE_ENOTREG    the target is a FIFO, socket or device
 *   AFILE_EHARDLINKS the target has other hard links and
 *                    AFILE_BREAK_HARDLINKS was not given
 * On failure the target is unchanged and no temporary file remains,
 * except AFILE_EUNSYNCED.  Since: 0.1.
 */
AFILE_API int afile_write(int dirfd, const char *path, const void *buf,
    size_t len, unsigned int flags, const struct afile_opts *opts);

/*
 * afile_read - read a whole file
 * @dirfd:   directory that @path is relative to, or AT_FDCWD
 * @path:    file to read
 * @ret_buf: receives a malloc()ed buffer of *@ret_len bytes, followed by
 *           a NUL byte that is not counted; free it with free()
 * @ret_len: receives the length
 * @flags:   AFILE_NOFOLLOW (fail with -ELOOP on a symlink)
 * @opts:    NULL for defaults; only .err is used
 *
 * When @dirfd is a transaction root (it holds .atomicfile/) with an
 * interrupted transaction, that transaction is recovered first, as SQLite
 * checks for a hot journal, so the file read is never half of one; the
 * recovery's errors (AFILE_ECORRUPT, -EROFS, -EACCES) are then returned.
 * A transaction that is running is not disturbed: the read goes on.
 * The file is read under a shared lock of its own (an OFD lock on the
 * file opened), so that an in-place patch (AFILE_INPLACE) is seen whole
 * or not at all, and an interrupted one is replayed first from its redo
 * log (which needs write access to the file: -EACCES otherwise).
 * On NFS, GlusterFS and other network file systems, ESTALE from the open
 * or a read (the file was replaced on another client) retries the whole
 * open and read from the path, three tries in all, 10 and 20 ms apart
 * (the kernel itself walks a path again once); then -ESTALE.
 *
 * Returns 0, or a negative error code: -EINVAL (a NULL pointer, an empty
 * path or unknown flags), -ENOENT, -EACCES, -EISDIR, -ELOOP, -EIO,
 * -ENOMEM, -EFBIG (larger than the address space), -ESTALE (still stale
 * after three tries).  On failure *@ret_buf is NULL and *@ret_len is 0.
 * Since: 0.1.
 */
AFILE_API int afile_read(int dirfd, const char *path, void **ret_buf,
    size_t *ret_len, unsigned int flags, const struct afile_opts *opts);

/*
 * afile_remove - delete a file durably
 * @dirfd: directory that @path is relative to, or AT_FDCWD
 * @path:  the name to remove; a symlink is removed itself, never followed
 * @flags: AFILE_LOCK
 * @opts:  NULL for defaults
 *
 * Unlinks @path and syncs its directory.  Returns 0 or a negative error
 * code; besides the common ones: -ENOENT (nothing to remove), -EISDIR
 * (a directory).  On failure the name still exists, except
 * AFILE_EUNSYNCED (removed, removal not known durable).  Since: 0.1.
 */
AFILE_API int afile_remove(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts);

/*
 * afile_copy - atomically copy a file
 * @sdirfd: directory that @src is relative to, or AT_FDCWD
 * @src:    regular file to copy (symlinks followed)
 * @ddirfd: directory that @dst is relative to, or AT_FDCWD
 * @dst:    destination, created or atomically replaced
 * @flags:  AFILE_NOREPLACE, AFILE_NOFOLLOW (of @dst),
 *          AFILE_BREAK_HARDLINKS, AFILE_OWNER_BEST_EFFORT, AFILE_SET_MODE,
 *          AFILE_LOCK (of @dst)
 * @opts:   NULL for defaults; .progress reports progress
 *
 * Shares extents with @src where the file system can (FICLONE), else
 * copies inside the kernel (copy_file_range), else reads and writes.  The
 * copy takes the source's mode, extended attributes, ACLs and
 * modification time, and its owner and group where the caller may set
 * them (like cp -p: a failure to set the owner is not an error here).
 *
 * Returns 0 or a negative error code as afile_write(), plus errors reading
 * @src and -ECANCELED when .progress asked to stop.  On failure @dst is
 * unchanged and no temporary file remains, except AFILE_EUNSYNCED.
 * Since: 0.1.
 */
AFILE_API int afile_copy(int sdirfd, const char *src, int ddirfd,
    const char *dst, unsigned int flags, const struct afile_opts *opts);

/*
 * afile_rename - rename durably, even across file systems
 * @sdirfd: directory that @src is relative to, or AT_FDCWD
 * @src:    the name to move (not followed if a symlink)
 * @ddirfd: directory that @dst is relative to, or AT_FDCWD
 * @dst:    the new name
 * @flags:  AFILE_NOREPLACE (fail with -EEXIST if @dst exists),
 *          AFILE_EXCHANGE (swap @src and @dst; both must exist),
 *          AFILE_OWNER_BEST_EFFORT (for a move across file systems),
 *          AFILE_LOCK (the lock of @dst only)
 * @opts:   NULL for defaults
 *
 * Renames and syncs both directories (once if they are the same).  When
 * @src and @dst are on different file systems and @src is a regular file,
 * copies it with its metadata, publishes the copy atomically, then removes
 * @src.  Without renameat2(2), AFILE_NOREPLACE falls back to link and
 * unlink, and AFILE_EXCHANGE fails with -ENOTSUP.
 *
 * Returns 0 or a negative error code; besides the common ones: -EEXIST,
 * -ENOENT, -EXDEV (a directory or an exchange across file systems),
 * -EINVAL (both AFILE_NOREPLACE and AFILE_EXCHANGE), -ENOTSUP, and
 * AFILE_ESOURCEKEPT (across file systems: @dst holds the copy, but @src
 * could not be removed).  On failure both names are as they were, except
 * AFILE_EUNSYNCED (renamed, not known durable; across file systems: @dst
 * holds the copy, not known durable, and @src is kept) and
 * AFILE_ESOURCEKEPT.
 * Since: 0.1.
 */
AFILE_API int afile_rename(int sdirfd, const char *src, int ddirfd,
    const char *dst, unsigned int flags, const struct afile_opts *opts);

/*
 * afile_patch - atomically replace a byte range of a file
 * @dirfd:  directory that @path is relative to, or AT_FDCWD
 * @path:   existing regular file
 * @offset: where the new bytes go; past the end leaves a hole, as pwrite
 * @buf:    the new bytes, @len of them
 * @len:    length of @buf
 * @flags:  AFILE_NOFOLLOW, AFILE_BREAK_HARDLINKS, AFILE_OWNER_BEST_EFFORT,
 *          AFILE_LOCK; or AFILE_INPLACE, with AFILE_NOFOLLOW and AFILE_LOCK
 * @opts:   NULL for defaults
 *
 * By default, makes a copy of the file that shares its extents where the
 * file system can (FICLONE on xfs and btrfs, so the cost follows the size
 * of the change, not of the file), writes the range into the copy, and
 * publishes it as afile_write() does.  Every reader, cooperating or not,
 * sees the file before or after the whole change.
 *
 * With AFILE_INPLACE the file keeps its inode and the change costs its
 * own size on every file system (ext4, tmpfs, NFS included), as SQLite's
 * write-ahead log does: under the file's exclusive lock (always taken,
 * AFILE_LOCK or not) the new bytes and sizes go to a redo log beside the
 * file, ".NAME.afile-redo" (docs/FORMAT.md), whose sync is the commit
 * point (with its directory's when the log is created); then the new
 * bytes are written into the file without a sync, and a marker (in the
 * file's lock sidecar, ".NAME.afile-lock", not synced) says they are
 * there, for this boot and mount.  One sync per patch, plus
 * one of the file each time the log passes 1 MiB (a checkpoint: the file
 * synced, the log started again).  After a crash, kill -9 or power cut at
 * any point, the next afile_patch(), afile_patchv(), afile_read() or
 * afile_patch_recover() of the file replays the log (whose marker is not
 * trusted after a reboot or a new mount: unsynced writes may be lost), so
 * the file is old or new, never a mix, and an acknowledged patch is never
 * lost.  What readers see:
 *   - afile_read() and "atomicfile cat" (cooperating readers) hold a
 *     shared lock on the file while they read, and replay an interrupted
 *     patch first: they never see half a patch.  So does a caller that
 *     holds afile_lock_acquire(AFILE_LOCK_SHARED) of @path while reading.
 *   - Any other reader (read(2), mmap(2), another program, a backup) may
 *     see the file during the patch: some of the new bytes and not yet
 *     others, the old size with part of the new bytes; after a kill -9
 *     during a patch, half of it until the next recovery; and after a
 *     power cut, until the next recovery, any mix of the patches since
 *     the last checkpoint (their writes were not synced: the log holds
 *     them).  The file alone, without its log, is consistent only after
 *     afile_patch_recover() ("atomicfile recover FILE"), which folds the
 *     log into it.  A reader that had the file open sees the change
 *     (same inode), unlike with a replace.
 *   - The default (copy) mode of afile_patch() reads the file under the
 *     same shared lock and recovery; afile_copy() does not, and may copy
 *     half of a running or interrupted in-place patch.
 *   - A writer that changes the file behind the library's back (not a
 *     replace, which gives a new inode the log does not match: an
 *     in-place write(2), a truncate) while the log holds patches may
 *     have its change overwritten by a later replay: run
 *     afile_patch_recover() first.
 * The file keeps its inode, mode, owner, attributes and hard-link count;
 * AFILE_SYNC_DATA counts as AFILE_SYNC_FULL and AFILE_SYNC_NONE syncs
 * nothing (atomic against process crashes only).  The log's identity
 * check (st_ino and the inode generation, FS_IOC_GETVERSION)
 * keeps a log from being replayed onto a file that reused the inode
 * number of a replaced one; where the file system has no generation
 * (tmpfs, NFS, FUSE) only st_ino is compared.
 *
 * Returns 0 or a negative error code as afile_write(), plus -ENOENT when
 * @path does not exist and -EFBIG when @offset + @len overflows.  On
 * failure the file is unchanged and no temporary file remains, except
 * AFILE_EUNSYNCED.  With AFILE_INPLACE also: -EINVAL (AFILE_BREAK_HARDLINKS,
 * AFILE_OWNER_BEST_EFFORT or AFILE_SET_MODE given), AFILE_EHARDLINKS (the
 * file has other names, which could not find its redo log), -ETIMEDOUT
 * or -EAGAIN (the lock, per opts->lock_wait_ms), -EACCES (no write
 * permission on the file or its directory, for the log),
 * AFILE_EPROTECTED (in a sticky directory others can write, the file or
 * its redo log was made by another user: a planted log is never
 * replayed, and afile_read() ignores it), and the errors of an earlier
 * interrupted patch's replay.  A failure before the commit point leaves
 * the file unchanged (a power cut may still find the record synced and
 * apply it: the patch was not acknowledged, so old or new).  A failure
 * after it (writing into the file failed, e.g. -EIO): the patch is
 * committed and the next recovery writes it again, so a cooperating
 * reader sees the new version or the error, never half.  Since: 0.1.
 */
AFILE_API int afile_patch(int dirfd, const char *path, uint64_t offset,
    const void *buf, size_t len, unsigned int flags,
    const struct afile_opts *opts);

/*
 * struct afile_range - one change of afile_patchv()
 * @offset: where the bytes go
 * @buf:    the new bytes, @len of them (may be NULL if @len is 0)
 * @len:    their length
 */
struct afile_range {
	uint64_t offset;
	const void *buf;
	size_t len;
};

/*
 * afile_patchv - atomically replace several byte ranges of a file
 * @dirfd:  directory that @path is relative to, or AT_FDCWD
 * @path:   existing regular file
 * @ranges: the changes, @n of them, applied in order (a later range
 *          overwrites an earlier one where they overlap)
 * @n:      number of ranges, at most 65536; 0 changes nothing
 * @flags:  as for afile_patch()
 * @opts:   NULL for defaults
 *
 * All ranges or none, as one afile_patch(): by default one patched copy is
 * published; with AFILE_INPLACE one redo record holds the new bytes of
 * every range and the one sync is shared.  Returns 0 or a negative
 * error code as afile_patch(), plus -EINVAL for @n too large or a NULL
 * @ranges with @n > 0.  Since: 0.1.
 */
AFILE_API int afile_patchv(int dirfd, const char *path,
    const struct afile_range *ranges, size_t n, unsigned int flags,
    const struct afile_opts *opts);

/*
 * afile_patch_recover - replay an interrupted in-place patch of a file
 * and fold its redo log into it
 * @dirfd: directory that @path is relative to, or AT_FDCWD
 * @path:  the file (a symlink is followed unless AFILE_NOFOLLOW)
 * @flags: AFILE_NOFOLLOW
 * @opts:  NULL for defaults; .lock_wait_ms bounds the wait for the lock
 *
 * Under the file's exclusive lock: when ".NAME.afile-redo" may hold
 * patches the file lacks (a crash, a power cut or a new mount since the
 * last patch), writes every record of the log into the file again; a
 * torn record (never committed) ends the log; a log of another file (the
 * name was replaced since) is emptied without touching the file.  Then
 * the file is synced and the log emptied: the file alone is the current
 * version, durable.  afile_patch(), afile_patchv() and afile_read()
 * replay by themselves; this is for "atomicfile recover FILE", before a
 * backup or copy of the file alone, and before writing the file other
 * than through the library.  Idempotent and crash-safe.
 *
 * Returns 1 when records were written again, 0 when there was nothing to
 * replay, or a negative error code: -ENOENT, -EACCES, -EROFS, -EIO,
 * -ETIMEDOUT/-EAGAIN.  Since: 0.1.
 */
AFILE_API int afile_patch_recover(int dirfd, const char *path,
    unsigned int flags, const struct afile_opts *opts);

/*
 * A patcher keeps one file open for a series of in-place patches, as a
 * database keeps its connection: each patch is afile_patchv() with
 * AFILE_INPLACE (the same redo log, locks, recovery and guarantees)
 * without the opening, checking and closing of the file, its directory,
 * its lock sidecar and its log that a one-shot call does every time
 * (about half of the system calls of a patch).
 */
struct afile_patcher;

/*
 * afile_patcher_open - keep a file open for in-place patches
 * @dirfd:       directory that @path is relative to, or AT_FDCWD
 * @path:        existing regular file (a symlink is followed unless
 *               AFILE_NOFOLLOW)
 * @flags:       AFILE_NOFOLLOW
 * @opts:        NULL for defaults; .sync and .lock_wait_ms apply to every
 *               patch; a given .err or .ret_sync pointer is kept and must
 *               stay valid until afile_patcher_free()
 * @ret_patcher: receives the patcher
 *
 * Resolves @path once and pins the directory that holds the file (later
 * renames of that directory, or a chdir(), do not move the patcher), then
 * checks and opens the file as afile_patch() with AFILE_INPLACE would:
 * a file that could not be patched is refused here.  Holds no lock
 * between calls: other patchers, afile_patch(), afile_read() and
 * afile_lock_acquire() of the file go on as usual, and each patch takes
 * the locks for its own duration.  Changes nothing.
 *
 * Returns 0 or a negative error code: -EINVAL (a bad flag or argument),
 * -ENOENT, -EISDIR, -ELOOP (AFILE_NOFOLLOW and a symlink),
 * AFILE_ENOTREG, AFILE_EHARDLINKS, -EACCES, -EROFS, AFILE_EPROTECTED,
 * -ETIMEDOUT or -EAGAIN (the lock, per opts->lock_wait_ms), -ENOMEM.  On
 * failure *@ret_patcher is NULL.  Since: 0.1.
 */
AFILE_API int afile_patcher_open(int dirfd, const char *path,
    unsigned int flags, const struct afile_opts *opts,
    struct afile_patcher **ret_patcher);

/*
 * afile_patcher_patchv - atomically replace byte ranges of the file in
 * place
 * @p:      an open patcher
 * @ranges: the changes, @n of them, as for afile_patchv()
 * @n:      number of ranges, at most 65536; 0 changes nothing (but
 *          replays an interrupted patch)
 *
 * afile_patchv(AFILE_INPLACE) of the name the patcher was opened on, in
 * its pinned directory: under the file's exclusive lock, an interrupted
 * patch is replayed first, the new bytes are committed by one sync of
 * the redo log and then written into the file.  What readers see, the
 * crash guarantees and the state after a failure are afile_patch()'s.
 * Each patch applies to the file that the name leads to at that moment:
 * when the file was replaced (afile_write(), a copy-mode afile_patch())
 * or removed and made again since the last patch, the patcher opens the
 * new one, with every check of afile_patcher_open().  Not for two threads
 * at once (one patcher per thread; two patchers of one file exclude each
 * other like two processes), nor for a process and its fork()ed child
 * (the locks belong to the open files, which they share: open a patcher
 * in the child).  A failed patch closes the patcher's
 * descriptors, which the next patch opens again.
 *
 * Returns 0 or a negative error code as afile_patchv() with
 * AFILE_INPLACE; -EINVAL for a NULL @p; -ENOENT when the name is gone.
 * Since: 0.1.
 */
AFILE_API int afile_patcher_patchv(
    struct afile_patcher *p, const struct afile_range *ranges, size_t n);

/*
 * afile_patcher_free - close a patcher
 * @p: a patcher, or NULL (no-op)
 *
 * Closes the file, its log, its sidecar and the pinned directory.
 * Nothing is written: every patch the patcher acknowledged is already
 * committed, and the log stays beside the file as afile_patch() leaves
 * it.  Since: 0.1.
 */
AFILE_API void afile_patcher_free(struct afile_patcher *p);

/* ------------------------------------------------------------------
 * Streaming writer
 * ------------------------------------------------------------------ */

struct afile_writer;

/*
 * afile_writer_open - start writing a new version of a file
 * @dirfd:      directory that @path is relative to, or AT_FDCWD
 * @path:       target file, as for afile_write()
 * @flags:      as for afile_write()
 * @opts:       NULL for defaults; .size_hint reserves space up front
 * @ret_writer: receives the writer
 *
 * Checks the target and the permissions, creates the temporary file and
 * applies the owner and extended attributes to it, so that a write that
 * cannot succeed fails here, before any data is written.
 *
 * Returns 0 or a negative error code as afile_write().  On failure
 * *@ret_writer is NULL, nothing changed and no temporary file exists.
 * Since: 0.1.
 */
AFILE_API int afile_writer_open(int dirfd, const char *path, unsigned int flags,
    const struct afile_opts *opts, struct afile_writer **ret_writer);

/*
 * afile_writer_write - append data to the new version
 * @w:   an open writer
 * @buf: data, @len bytes
 * @len: length of @buf
 *
 * Writes all of @buf (short writes and EINTR are handled).  Returns 0, or
 * -EINVAL when @w is NULL or not open, AFILE_EPOISONED after an earlier
 * failure, or the write error (-ENOSPC, -EDQUOT, -EIO, -EFBIG), after
 * which the writer is poisoned.  The target is never touched.
 * Since: 0.1.
 */
AFILE_API int afile_writer_write(
    struct afile_writer *w, const void *buf, size_t len);

/*
 * afile_writer_fd - the descriptor of the temporary file
 * @w: an open writer
 *
 * For callers that write with their own I/O (sendfile, splice, a
 * compression library).  The descriptor stays owned by the writer: do not
 * close it.  Data written through it is published by afile_writer_commit()
 * as it stands; its file offset is shared with afile_writer_write().
 * Returns the descriptor (>= 0), -EINVAL, or AFILE_EPOISONED.
 * Since: 0.1.
 */
AFILE_API int afile_writer_fd(struct afile_writer *w);

/*
 * afile_writer_commit - publish the new version atomically
 * @w: an open writer
 *
 * Applies the final mode, syncs the temporary file (per the durability
 * level), publishes it over the target and syncs the directory.  The
 * writer is terminal afterwards, whatever the result: only
 * afile_writer_free() may follow.
 *
 * Returns 0, or a negative error code: -EINVAL, AFILE_EPOISONED, a sync
 * or rename error, -EEXIST (AFILE_NOREPLACE and the target appeared since
 * open), AFILE_EUNSYNCED.  On failure the target is unchanged and the
 * temporary file is removed, except AFILE_EUNSYNCED.  Since: 0.1.
 */
AFILE_API int afile_writer_commit(struct afile_writer *w);

/*
 * afile_writer_free - release a writer
 * @w: a writer, or NULL (no-op)
 *
 * Discards the new version if it was not committed: the temporary file is
 * removed and the target stays as it was.  Since: 0.1.
 */
AFILE_API void afile_writer_free(struct afile_writer *w);

/* ------------------------------------------------------------------
 * Locks and read-modify-write
 *
 * A lock belongs to a path, not to an inode: every replace gives the path a
 * new inode, so the lock lives on a stable sidecar file beside the target,
 * ".NAME.afile-lock", created on first use (the target need not exist) and
 * never removed while anyone may use it.  The locks are fcntl(2) open file
 * description locks: the kernel drops them the moment their holder dies,
 * so there are no stale locks to break and no "takeover" that could let
 * two processes in at once.  Where OFD locks are missing (non-Linux),
 * flock(2) is used, which has the same per-open-file semantics on local
 * file systems.  On NFS both are emulated by the server's lock manager:
 * they work, but a client that loses its lease can lose the lock.
 * ------------------------------------------------------------------ */

struct afile_lock;

enum afile_lock_mode {
	AFILE_LOCK_SHARED = 1,
	AFILE_LOCK_EXCLUSIVE = 2,
};

/*
 * afile_lock_acquire - lock a path against other cooperating processes
 * @dirfd:      directory that @path is relative to, or AT_FDCWD
 * @path:       the file to lock; a symlink is followed as afile_write()
 *              follows it, so that both lock the same sidecar
 * @mode:       AFILE_LOCK_SHARED or AFILE_LOCK_EXCLUSIVE
 * @timeout_ms: 0 tries once, -1 waits as long as it takes, a positive
 *              value waits at most that many milliseconds (polling with
 *              jittered backoff)
 * @ret_lock:   receives the lock
 *
 * Shared locks exclude exclusive ones; an exclusive lock excludes all
 * others.  Locks are per lock handle: two handles of one process exclude
 * each other like two processes do.  A child process that inherits the
 * descriptor (see afile_lock_fd()) shares the lock, which is released when
 * the handle is released and every inherited copy is closed.
 *
 * Returns 0, or a negative error code: -EAGAIN (@timeout_ms was 0 and the
 * lock is held), -ETIMEDOUT (not acquired in time), -EINVAL (bad @mode,
 * @timeout_ms below -1, a NULL pointer), -EACCES or -EROFS (the sidecar
 * cannot be created), -ENOLCK, or the errors of path resolution.  On
 * failure nothing is held; a sidecar created on the way stays (it is
 * harmless and will be reused).  Thread-safe.  Since: 0.1.
 */
AFILE_API int afile_lock_acquire(int dirfd, const char *path, unsigned int mode,
    int timeout_ms, struct afile_lock **ret_lock);

/*
 * afile_lock_fd - the descriptor that carries a lock
 * @lock: a held lock
 *
 * For a process that hands the lock to a child: clear FD_CLOEXEC on it
 * before exec, and the child holds the lock too (as flock(1) does).  Do
 * not close it; afile_lock_release() does.  Returns the descriptor or
 * -EINVAL.  Since: 0.1.
 */
AFILE_API int afile_lock_fd(const struct afile_lock *lock);

/*
 * afile_lock_release - release a lock and free its handle
 * @lock: a lock, or NULL (no-op)
 *
 * The sidecar file stays.  Since: 0.1.
 */
AFILE_API void afile_lock_release(struct afile_lock *lock);

/* Returned by an update callback to leave the file as it is. */
#define AFILE_UPDATE_KEEP 1

/*
 * afile_update - read, modify and write a file with no lost updates
 * @dirfd: directory that @path is relative to, or AT_FDCWD
 * @path:  the file; it need not exist yet
 * @fn:    called once with @ctx, the current contents (@old, @old_len; @old
 *         is NULL when the file does not exist, and NUL-terminated
 *         otherwise) and an open writer for the new contents; returns 0 to
 *         publish what it wrote, AFILE_UPDATE_KEEP to change nothing, or a
 *         negative error code to abort
 * @ctx:   passed to @fn
 * @flags: as for afile_write(), except AFILE_NOREPLACE
 * @opts:  NULL for defaults; .lock_wait_ms bounds the wait for the lock
 *
 * Takes the exclusive lock of @path, reads it, lets @fn write the new
 * version and publishes it atomically, then releases the lock.  Any number
 * of processes updating one file this way never lose an update.  @fn must
 * not free the writer; it may call afile_writer_write() and
 * afile_writer_fd() on it.
 *
 * On a FUSE or network file system the lock sidecar records which version
 * was published last; a caller whose client still sees an older one reads
 * again, for up to five seconds, then fails with -ESTALE instead of
 * losing the other client's update (see afile_update(3), atomicfile(7)).
 *
 * Returns 0 (published, or kept by AFILE_UPDATE_KEEP), the negative value
 * @fn returned, -ESTALE (a stale view that did not go), or the errors of
 * afile_lock_acquire(), afile_read() and afile_writer_commit().  On
 * failure the file is unchanged and no temporary file remains, except
 * AFILE_EUNSYNCED.  Since: 0.1.
 */
AFILE_API int afile_update(int dirfd, const char *path,
    int (*fn)(
	void *ctx, const void *old, size_t old_len, struct afile_writer *w),
    void *ctx, unsigned int flags, const struct afile_opts *opts);

/* ------------------------------------------------------------------
 * Temporary files
 *
 * A temp file exists under a name only where the file system lacks
 * O_TMPFILE, or for the moment between naming it and renaming it over the
 * target.  Such a name is ".TARGET.XXXXXXXXXXXX.afile-tmp", and its writer
 * holds an exclusive OFD lock on it for its whole life, so a sweeper can
 * tell a live writer's temp (locked) from an abandoned one (unlocked)
 * without guessing from timestamps.  Abandoned temps of a target are swept
 * when the target is next written; afile_cleanup() sweeps a directory.
 * ------------------------------------------------------------------ */

/*
 * struct afile_cleanup_report - what afile_cleanup() found
 * @size:    set to sizeof(struct afile_cleanup_report) before the call
 * @removed: abandoned temps removed (or that would be, with
 *           AFILE_CLEAN_DRY_RUN)
 * @bytes:   their total size
 * @live:    temps kept because their writer is alive
 * @young:   temps kept because they are younger than the minimum age
 * @failed:  temps that could not be examined or removed
 * @each:    when not NULL, called for every temp found, with its name,
 *           and what was done: AFILE_CLEAN_REMOVED, AFILE_CLEAN_LIVE,
 *           AFILE_CLEAN_YOUNG, or a negative error code
 * @ctx:     passed to @each
 */
struct afile_cleanup_report {
	size_t size;
	uint64_t removed;
	uint64_t bytes;
	uint64_t live;
	uint64_t young;
	uint64_t failed;
	void (*each)(const char *name, int what, void *ctx);
	void *ctx;
};

#define AFILE_CLEAN_REMOVED 0
#define AFILE_CLEAN_LIVE    1
#define AFILE_CLEAN_YOUNG   2

/* afile_cleanup(): report what would be removed, remove nothing. */
#define AFILE_CLEAN_DRY_RUN 0x0001u

/*
 * afile_cleanup - remove abandoned temporary files from a directory
 * @dirfd:     directory that @dir is relative to, or AT_FDCWD
 * @dir:       the directory to sweep (not recursive)
 * @min_age_s: keep temps modified less than this many seconds ago, for
 *             file systems whose locks cannot be trusted (NFS); 0 relies
 *             on the locks alone
 * @flags:     AFILE_CLEAN_DRY_RUN
 * @report:    NULL, or receives counts (set its .size first)
 *
 * Removes every ".*.afile-tmp" regular file whose writer is gone (its lock
 * can be taken).  Never removes a live writer's temp, a lock sidecar or
 * anything else.
 *
 * Returns 0 when the directory was swept, whatever it removed, or a
 * negative error code: -EINVAL, -ENOENT, -ENOTDIR, -EACCES.  Errors on
 * single temps are counted in @report->failed, not returned.  Since: 0.1.
 */
AFILE_API int afile_cleanup(int dirfd, const char *dir, uint64_t min_age_s,
    unsigned int flags, struct afile_cleanup_report *report);

/*
 * afile_cleanup_on_signal - remove this process's named temps, from a
 * signal handler
 *
 * Async-signal-safe.  For an application's own SIGINT/SIGTERM handler:
 * removes every named temp file that a writer of this process (not of a
 * parent or a child) holds at the moment, so that even a process that
 * dies by the signal leaves nothing behind.  The writers themselves stay
 * valid but will fail to commit.  The library installs no handler itself.
 * Covers at most 64 temps held at once; temps without a name (O_TMPFILE)
 * need no cleanup.  Since: 0.1.
 */
AFILE_API void afile_cleanup_on_signal(void);

/* ------------------------------------------------------------------
 * Transactions and batches
 *
 * A transaction changes several files under one root directory all or
 * nothing, across crashes and power cuts.  New contents are staged as
 * temps beside their targets and synced together; then a journal listing
 * every change is written and synced to ROOT/.atomicfile/journal (the
 * commit point); then the changes are applied and the journal retired.
 * After a crash, recovery (afile_recover(), or the next afile_txn_begin()
 * or afile_read() in that root) finishes a committed transaction or
 * rolls back one that never committed.  The journal format is in
 * docs/FORMAT.md.
 *
 * State diagram of a transaction:
 *
 *	begin --> OPEN --put/create/remove/rename--> OPEN --commit--> DONE
 *	           |                                  |
 *	           +-------------- free --------------+--> (rolled back)
 *
 * Transactions in one root are serialized by the root's lock; a reader
 * that wants a consistent view of several files takes afile_txn_snapshot().
 * Paths are relative to the root and must stay beneath it: absolute
 * paths, ".." components and symlinks leading out are refused (-EINVAL,
 * -EXDEV).
 * ------------------------------------------------------------------ */

struct afile_txn;

/*
 * afile_txn_begin - start a transaction under a root directory
 * @rootfd:  directory that @root is relative to, or AT_FDCWD
 * @root:    the root; ROOT/.atomicfile/ is created on first use
 * @flags:   none yet; pass 0
 * @opts:    NULL for defaults; .sync applies to the commit, .lock_wait_ms
 *           bounds the wait for another transaction of the same root
 * @ret_txn: receives the transaction
 *
 * Takes the root's transaction lock and first recovers an interrupted
 * transaction if one is there.  Returns 0, or a negative error code:
 * -EINVAL, -ENOENT, -ENOTDIR, -EACCES, -EROFS, -ETIMEDOUT/-EAGAIN (another
 * transaction holds the root), AFILE_ECORRUPT (a damaged journal needs a
 * human: see afile_recover()).  Since: 0.1.
 */
AFILE_API int afile_txn_begin(int rootfd, const char *root, unsigned int flags,
    const struct afile_opts *opts, struct afile_txn **ret_txn);

/*
 * afile_txn_put - stage new contents for a file
 * @txn:   an open transaction
 * @path:  the file, relative to the root; its directory must exist
 * @buf:   the contents, @len bytes
 * @len:   length of @buf
 * @flags: AFILE_BREAK_HARDLINKS, AFILE_OWNER_BEST_EFFORT
 *
 * The new version is written and its metadata applied now (a replaced
 * file keeps its mode, owner, attributes), and published by the commit.
 * Returns 0 or a negative error code as afile_write(); any failure
 * poisons the transaction: the commit will fail and change nothing.
 * Since: 0.1.
 */
AFILE_API int afile_txn_put(struct afile_txn *txn, const char *path,
    const void *buf, size_t len, unsigned int flags);

/*
 * afile_txn_writer - stage new contents for a file, streamed
 * @txn:        an open transaction
 * @path:       as for afile_txn_put()
 * @flags:      as for afile_txn_put(), plus AFILE_NOREPLACE to stream an
 *              afile_txn_create() instead of a put
 * @ret_writer: receives a writer; write to it, then call
 *              afile_writer_commit(), which stages the contents into the
 *              transaction instead of publishing them, and
 *              afile_writer_free()
 *
 * Returns 0 or a negative error code as afile_txn_put().  Since: 0.1.
 */
AFILE_API int afile_txn_writer(struct afile_txn *txn, const char *path,
    unsigned int flags, struct afile_writer **ret_writer);

/*
 * afile_txn_create - stage a file that must not exist yet
 * @txn: an open transaction; @path, @buf, @len, @flags as afile_txn_put()
 *
 * The commit fails as a whole with -EEXIST, changing nothing, if @path
 * exists at that moment.  Since: 0.1.
 */
AFILE_API int afile_txn_create(struct afile_txn *txn, const char *path,
    const void *buf, size_t len, unsigned int flags);

/*
 * afile_txn_remove - stage the removal of a file
 * @txn:   an open transaction
 * @path:  relative to the root; must exist at commit (else -ENOENT)
 * @flags: none yet; pass 0
 * Since: 0.1.
 */
AFILE_API int afile_txn_remove(
    struct afile_txn *txn, const char *path, unsigned int flags);

/*
 * afile_txn_rename - stage a rename within the root
 * @txn:   an open transaction
 * @from:  relative to the root; must exist at commit (else -ENOENT)
 * @to:    relative to the root, on the same file system; replaced if it
 *         exists
 * @flags: none yet; pass 0
 * Since: 0.1.
 */
AFILE_API int afile_txn_rename(struct afile_txn *txn, const char *from,
    const char *to, unsigned int flags);

/*
 * afile_txn_commit - apply every staged change, all or nothing
 * @txn: an open transaction
 *
 * Syncs the staged contents in one batch, writes and syncs the journal
 * (the commit point), applies the changes in the order they were staged,
 * syncs every touched directory once and retires the journal.  The
 * transaction is terminal afterwards: only afile_txn_free() may follow.
 *
 * Transactions sync fully, or not at all with AFILE_SYNC_NONE:
 * AFILE_SYNC_DATA counts as AFILE_SYNC_FULL, because a journal that is
 * not findable after a power cut could leave half an apply.
 *
 * Returns 0: every change is durable (per opts.sync).  Before the commit
 * point, a negative error code (-EEXIST for a create whose target
 * appeared, -ENOENT for a vanished remove or rename source, a sync or
 * write error, AFILE_EPOISONED after a failed stage): nothing changed and
 * no temporary file remains.  After it, AFILE_EJOURNAL: the transaction
 * is committed but could not be fully applied; the next recovery in the
 * root finishes it.  AFILE_EJOURNAL also when writing the journal failed
 * and taking it back failed too (a sync error, say): the journal may or
 * may not have reached the disk, and the next recovery in the root makes
 * the outcome all new or all old.  Since: 0.1.
 */
AFILE_API int afile_txn_commit(struct afile_txn *txn);

/*
 * afile_txn_free - end a transaction
 * @txn: a transaction, or NULL (no-op)
 *
 * Without a commit this rolls back: staged temps are removed and nothing
 * visible changes.  Releases the root's lock.  Since: 0.1.
 */
AFILE_API void afile_txn_free(struct afile_txn *txn);

/*
 * struct afile_recover_report - what afile_recover() did
 * @size:    set to sizeof(struct afile_recover_report) before the call
 * @action:  AFILE_RECOVER_NONE (nothing to do), AFILE_RECOVER_REDONE (a
 *           committed transaction was finished), AFILE_RECOVER_ROLLED_BACK
 *           (an uncommitted one was undone), AFILE_RECOVER_CORRUPT (a
 *           damaged journal was left alone)
 * @txn_id:  the transaction's id, when a journal was found
 * @records: its operations (those readable, for a damaged one)
 * @temps_removed: staged temps removed by a rollback
 */
struct afile_recover_report {
	size_t size;
	int action;
	uint64_t txn_id;
	uint64_t records;
	uint64_t temps_removed;
};

#define AFILE_RECOVER_NONE        0
#define AFILE_RECOVER_REDONE      1
#define AFILE_RECOVER_ROLLED_BACK 2
#define AFILE_RECOVER_CORRUPT     3

/*
 * afile_recover - finish or roll back an interrupted transaction
 * @rootfd: directory that @root is relative to, or AT_FDCWD
 * @root:   the transaction root
 * @flags:  none yet; pass 0
 * @report: NULL, or receives what was done (set its .size first)
 *
 * A valid journal is replayed (idempotently: what was applied already is
 * skipped, and a guard stops a replay from touching a file that a later
 * writer put there); a torn one, whose staged temps are all still there,
 * never committed and is rolled back.  Recovery is itself crash-safe: a
 * crash during it, then another recovery, gives the same result.  Acts
 * only beneath @root.  A root without .atomicfile/ is fine (nothing to
 * do).
 *
 * Returns 0 (see @report), AFILE_ECORRUPT (a damaged journal whose apply
 * had begun: nothing is changed, every temp is kept for salvage), or a
 * negative error code: -EINVAL, -ENOENT, -EACCES, -EROFS, -EIO.
 * Since: 0.1.
 */
AFILE_API int afile_recover(int rootfd, const char *root, unsigned int flags,
    struct afile_recover_report *report);

/*
 * afile_txn_snapshot - read several files of a root as one version
 * @rootfd:     directory that @root is relative to, or AT_FDCWD
 * @root:       the transaction root
 * @timeout_ms: as for afile_lock_acquire()
 * @ret_lock:   receives a shared lock of the root
 *
 * Recovers an interrupted transaction first, then holds the root's
 * shared lock: no transaction applies while it is held, so reads in the
 * meantime see all of each transaction or none of it.  Release with
 * afile_lock_release().  Returns 0 or a negative error code as
 * afile_lock_acquire() and afile_recover().  Since: 0.1.
 */
AFILE_API int afile_txn_snapshot(
    int rootfd, const char *root, int timeout_ms, struct afile_lock **ret_lock);

/*
 * struct afile_item - one file of afile_write_many()
 * @path: the file, relative to the call's dirfd
 * @buf:  its new contents, @len bytes
 * @len:  length of @buf
 */
struct afile_item {
	const char *path;
	const void *buf;
	size_t len;
};

/*
 * afile_write_many - write many independent files, sharing the syncs
 * @dirfd: directory that the items' paths are relative to, or AT_FDCWD
 * @items: the files, @n of them
 * @n:     number of items
 * @flags: as for afile_write(), applied to every item
 * @opts:  NULL for defaults
 *
 * Each file is replaced atomically, as afile_write() would, but the syncs
 * are shared: the temps are synced in one batch, each directory once.
 * Items go in groups as large as the descriptor limit allows (each item
 * of a group holds two until the group's sync; 16 to 4096 items).
 * AFILE_LOCK is not accepted.  Returns 0, or the first error: the items
 * of earlier groups, and the items of the failing group before a failed
 * publication, are published (each whole); the rest are not.  No temporary file
 * remains either way, except AFILE_EUNSYNCED.  Since: 0.1.
 */
AFILE_API int afile_write_many(int dirfd, const struct afile_item *items,
    size_t n, unsigned int flags, const struct afile_opts *opts);

/* ------------------------------------------------------------------
 * File systems
 * ------------------------------------------------------------------ */

/* struct afile_probe .works: the primitives that did what they must. */
#define AFILE_PROBE_TMPFILE          0x0001u /* O_TMPFILE, then linkat */
#define AFILE_PROBE_RENAME_NOREPLACE 0x0002u /* renameat2 RENAME_NOREPLACE */
#define AFILE_PROBE_RENAME_EXCHANGE  0x0004u /* renameat2 RENAME_EXCHANGE */
#define AFILE_PROBE_OFD_LOCKS        0x0008u /* fcntl F_OFD_SETLK */
#define AFILE_PROBE_FILE_FSYNC       0x0010u /* fsync of a file */
#define AFILE_PROBE_DIR_FSYNC        0x0020u /* fsync of a directory */
#define AFILE_PROBE_SYNCFS           0x0040u /* syncfs makes all durable */
#define AFILE_PROBE_REFLINK          0x0080u /* FICLONE */
/* A durable replace costs one device flush here (see atomicfile(7)). */
#define AFILE_PROBE_ONE_FLUSH        0x0100u

/* struct afile_probe .kind: what sort of file system it is. */
#define AFILE_PROBE_LOCAL    0x0001u /* a local block file system */
#define AFILE_PROBE_VOLATILE 0x0002u /* memory only (tmpfs, ramfs) */
#define AFILE_PROBE_FUSE     0x0004u /* FUSE: its server decides */
#define AFILE_PROBE_NETWORK  0x0008u /* served by another machine */
/* Several clients may cache names, attributes or data: see atomicfile(7). */
#define AFILE_PROBE_SHARED   0x0010u

/*
 * struct afile_probe - what afile_probe() found out about a file system
 * @size:     set to sizeof(struct afile_probe) before the call
 * @magic:    statfs(2) f_type
 * @fstype:   the library's name for @magic: "ext4", "xfs", "btrfs",
 *            "tmpfs", "fuse", "nfs", ..., or "unknown"
 * @mount_type: the type in /proc/self/mountinfo, with a FUSE file
 *            system's subtype ("fuse.glusterfs", "fuse.sshfs", "nfs4",
 *            "ext4"); empty when no mount matched
 * @mount_source: the mount's source ("/dev/vda", "server:/volume");
 *            empty when no mount matched
 * @works:    AFILE_PROBE_TMPFILE ... AFILE_PROBE_REFLINK: the primitives
 *            that worked in the directory probed (AFILE_PROBE_SYNCFS: the
 *            file system is one where syncfs(2) is known, by power-cut
 *            tests, to make every file durable; AFILE_PROBE_ONE_FLUSH:
 *            a durable replace here writes the temporary file back
 *            without a flush and lets the directory sync's log commit
 *            make it durable, one device flush instead of two: ext4 with
 *            a journal, xfs with its log on the data device)
 * @kind:     AFILE_PROBE_LOCAL ... AFILE_PROBE_SHARED
 * @durability: the best enum afile_sync level a call can reach there:
 *            AFILE_SYNC_FULL when files and directories can be synced,
 *            AFILE_SYNC_DATA when directory syncs are refused (a rename
 *            may be lost in a power cut), AFILE_SYNC_NONE when file syncs
 *            fail or the file system keeps nothing across a power cut
 */
struct afile_probe {
	size_t size;
	unsigned long magic;
	char fstype[32];
	char mount_type[64];
	char mount_source[256];
	unsigned int works;
	unsigned int kind;
	unsigned int durability;
};

/*
 * afile_probe - find out what the file system holding a path supports
 * @dirfd: directory that @path is relative to, or AT_FDCWD
 * @path:  a directory, or a file whose directory is probed
 * @flags: 0
 * @ret:   receives the findings; set its .size first
 *
 * Identifies the file system (statfs, and /proc/self/mountinfo for a FUSE
 * file system's subtype), then tries each primitive the library relies
 * on in the directory: it creates a hidden temporary file there
 * (.afile-probe.XXXXXXXXXXXX.afile-tmp, and two more names like it), syncs,
 * locks, renames, clones, and removes them all before it returns.  The
 * primitives are tried in the directory itself because one file system
 * type can differ per mount and per server.  Nothing outside the
 * temporary names is changed.  Use it to decide where to keep files, or
 * to explain a durability level reported by ret_sync.
 *
 * Returns 0, or a negative error code:
 *   -EINVAL  @path or @ret NULL, @path empty, @flags not 0, or @ret->size
 *            not sizeof(struct afile_probe)
 *   -ENOENT, -ENOTDIR, -EACCES, -ELOOP, -ENAMETOOLONG  resolving @path
 *   -EACCES, -EROFS, -ENOSPC, -EDQUOT  the temporary file could not be
 *            created or written: the primitives were not probed, but
 *            @magic, @fstype, @mount_type, @mount_source and @kind are
 *            filled
 *   -ENOMEM  out of memory
 * A primitive that fails is not an error: its bit stays clear.
 * Since: 0.1.
 */
AFILE_API int afile_probe(
    int dirfd, const char *path, unsigned int flags, struct afile_probe *ret);

/* ------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------ */

/*
 * struct afile_stats - process-wide counters since the library was loaded
 * @size:          set to sizeof(struct afile_stats) before the call
 * @ops:           operations that returned 0 (one-shot calls and commits)
 * @failures:      operations that returned an error
 * @bytes_written: bytes written to temporary files (clones not counted)
 * @bytes_read:    bytes read by afile_read() and read/write copies
 * @syncs:         file syncs (fsync or fdatasync)
 * @dir_syncs:     directory syncs
 * @retries:       system calls retried after EINTR or a short transfer
 * @recoveries:    interrupted transactions finished or rolled back
 * @sync_ns:       nanoseconds spent in file and directory syncs
 */
struct afile_stats {
	size_t size;
	uint64_t ops;
	uint64_t failures;
	uint64_t bytes_written;
	uint64_t bytes_read;
	uint64_t syncs;
	uint64_t dir_syncs;
	uint64_t retries;
	uint64_t recoveries;
	uint64_t sync_ns;
};

/*
 * afile_stats_get - read the process-wide counters
 * @ret_stats: receives the counters; set its .size first
 *
 * Returns 0, or -EINVAL when @ret_stats is NULL or its size is not
 * sizeof(struct afile_stats).  Thread-safe.  Since: 0.1.
 */
AFILE_API int afile_stats_get(struct afile_stats *ret_stats);

#ifdef __cplusplus
}
#endif

#endif /* ATOMICFILE_H */
