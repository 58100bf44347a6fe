/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the syscall table: the only door from the library to the OS.
 *
 * Every OS call of the library goes through afile__sys, so that tests can
 * fail any call (fault injection), record the call trace, switch kernel
 * features off (O_TMPFILE, renameat2, FICLONE, copy_file_range) or run
 * the library against a simulated file system.  The table entries have
 * the raw libc convention (-1 and errno); the afile__* wrappers below
 * turn that into -errno, retry EINTR where that is safe, and count
 * statistics (wrap.c).  Nothing above sys.c and wrap.c reads errno.
 *
 * The table is hidden and mutable for tests only: swapping entries is not
 * thread-safe, and production code never does it.
 */
#ifndef AFILE_SYS_H
#define AFILE_SYS_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define AFILE_HIDDEN __attribute__((visibility("hidden")))

struct afile__sys {
	int (*openat)(int dfd, const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*fstat)(int fd, struct stat *st);
	int (*fstatat)(int dfd, const char *path, struct stat *st, int flags);
	ssize_t (*readlinkat)(int dfd, const char *path, char *buf, size_t n);
	int (*renameat)(int sdfd, const char *src, int ddfd, const char *dst);
	int (*renameat2)(int sdfd, const char *src, int ddfd, const char *dst,
	    unsigned int flags);
	int (*linkat)(
	    int sdfd, const char *src, int ddfd, const char *dst, int flags);
	int (*unlinkat)(int dfd, const char *path, int flags);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*ficlone)(int dst_fd, int src_fd);
	ssize_t (*copy_file_range)(int in_fd, off_t *in_off, int out_fd,
	    off_t *out_off, size_t len, unsigned int flags);
	int (*fchmod)(int fd, mode_t mode);
	int (*fchown)(int fd, uid_t uid, gid_t gid);
	int (*futimens)(int fd, const struct timespec times[2]);
	ssize_t (*flistxattr)(int fd, char *list, size_t size);
	ssize_t (*fgetxattr)(
	    int fd, const char *name, void *value, size_t size);
	ssize_t (*llistxattr)(const char *path, char *list, size_t size);
	ssize_t (*lgetxattr)(
	    const char *path, const char *name, void *value, size_t size);
	int (*fsetxattr)(int fd, const char *name, const void *value,
	    size_t size, int flags);
	int (*syncfs)(int fd);
	/* The file system's magic number (statfs f_type) into *ret. */
	int (*fs_magic)(int fd, unsigned long *ret);
	/* Dirty and under-writeback page cache, system-wide, in KiB. */
	int (*dirty_kib)(uint64_t *ret);
	int (*mkdirat)(int dfd, const char *path, mode_t mode);
	int (*openat2_beneath)(int dfd, const char *path, int flags);
	int (*fcntl_lock)(int fd, int cmd, struct flock *fl);
	int (*flock)(int fd, int op);
	ssize_t (*getdents64)(int fd, void *buf, size_t n);
	int (*nanosleep)(const struct timespec *req, struct timespec *rem);
	pid_t (*getpid)(void);
	int (*getrlimit)(int resource, struct rlimit *rl);
	ssize_t (*getrandom)(void *buf, size_t n, unsigned int flags);
	uid_t (*geteuid)(void);
	/* Read /proc/sys/fs/@name (a protected_* switch) into @buf. */
	ssize_t (*read_sysctl_fs)(const char *name, char *buf, size_t n);
	int (*clock_gettime)(clockid_t clk, struct timespec *ts);
	void *(*malloc)(size_t n);
	void *(*realloc)(void *p, size_t n);
	void (*free)(void *p);
	/* In-place patches (inplace.c). */
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	int (*ftruncate)(int fd, off_t len);
	/* The inode's generation (FS_IOC_GETVERSION) into *ret. */
	int (*file_gen)(int fd, uint64_t *ret);
	/* Read /proc/sys/kernel/random/boot_id into @buf. */
	ssize_t (*read_boot_id)(char *buf, size_t n);
	/* statx: the size of @path and the unique id of its mount (or 0). */
	int (*stat_mnt)(int dfd, const char *path, int flags, uint64_t *size,
	    uint64_t *mnt);
	/* One-flush replaces (fstype.c): write back, no device flush. */
	int (*sync_file_range)(int fd, off_t off, off_t n, unsigned int flags);
	/*
	 * Read what the kernel says of a mount: the file @path, which must
	 * be under /proc/ or /sys/, into @buf (at most @n bytes).  Not an
	 * event for the simulator, which answers ENOENT (nothing known).
	 */
	ssize_t (*read_kfile)(const char *path, char *buf, size_t n);
};

extern AFILE_HIDDEN struct afile__sys afile__sys;
extern AFILE_HIDDEN const struct afile__sys afile__sys_default;

/* Restore the real system calls (tests). */
AFILE_HIDDEN void afile__sys_reset(void);

/*
 * Wrappers: 0 or a result >= 0 on success, -errno on failure.  EINTR is
 * retried (at most AFILE__EINTR_MAX times in a row, so that a storm of
 * signals cannot hang a caller forever) except for close.
 */
#define AFILE__EINTR_MAX 1000

AFILE_HIDDEN int afile__openat(
    int dfd, const char *path, int flags, mode_t mode);
AFILE_HIDDEN int afile__close(int fd);
AFILE_HIDDEN void afile__close_quiet(int fd);
AFILE_HIDDEN ssize_t afile__read(int fd, void *buf, size_t n);
AFILE_HIDDEN int afile__write_all(int fd, const void *buf, size_t n);
AFILE_HIDDEN int afile__pwrite_all(
    int fd, const void *buf, size_t n, uint64_t off);
AFILE_HIDDEN int afile__fsync(int fd, bool data_only);
AFILE_HIDDEN int afile__fsync_dir(int dfd);
/*
 * Write back @fd's dirty pages and wait for them, through the file
 * system's end of write-back (sync_file_range WAIT_BEFORE | WRITE |
 * WAIT_AFTER): no device flush, no journal commit of its own.  A failure
 * is final as for fsync; it is not counted as a sync.
 */
AFILE_HIDDEN int afile__writeback_wait(int fd);
/*
 * Read the kernel file @path (/proc/..., /sys/...) into @buf, NUL-
 * terminated (at most @n - 1 bytes).  Returns the length or -errno.
 */
AFILE_HIDDEN ssize_t afile__read_kfile(const char *path, char *buf, size_t n);
/* Sync the whole file system holding @fd (one journal commit). */
AFILE_HIDDEN int afile__syncfs(int fd);
/* The magic number (statfs f_type) of the file system holding @fd. */
AFILE_HIDDEN int afile__fs_magic(int fd, unsigned long *ret_magic);
/*
 * Data waiting for write-back, system-wide (/proc/meminfo), in KiB; 0
 * when the table's syncs are swapped (tests: their traces stay fixed).
 */
AFILE_HIDDEN int afile__dirty_kib(uint64_t *ret_kib);
/* Are the table's sync entries the real ones (no test swapped them)? */
AFILE_HIDDEN bool afile__real_syncs(void);
/*
 * Is this entry the real one?  Per-process shortcuts whose call traces
 * depend on what ran before (fewer sweeps, one random draw per process)
 * are taken only then, so that tests see the same calls every time.
 */
enum afile__sys_entry { AFILE__SYS_GETDENTS, AFILE__SYS_GETRANDOM };
AFILE_HIDDEN bool afile__sys_real(enum afile__sys_entry e);
/*
 * One page per process, zero-filled, that reads as zeros again in a
 * child after fork (MADV_WIPEONFORK, Linux 4.14): per-process state that
 * a child must not inherit.  NULL where the kernel cannot.
 */
AFILE_HIDDEN void *afile__wiped_on_fork(void);
/*
 * The value of the kernel switch /proc/sys/fs/@name (protected_symlinks,
 * protected_regular, protected_fifos): >= 0, or -errno when it cannot be
 * read (no /proc, an older kernel).
 */
AFILE_HIDDEN int afile__sysctl_fs(const char *name);
AFILE_HIDDEN int afile__mkdirat(int dfd, const char *path, mode_t mode);
/*
 * Open @path beneath @dfd: openat2(RESOLVE_BENEATH) where the kernel has
 * it (symlinks may be followed but never out of @dfd; ".." cannot climb
 * out), -ENOSYS where it does not.
 */
AFILE_HIDDEN int afile__openat_beneath(int dfd, const char *path, int flags);
AFILE_HIDDEN int afile__fstat(int fd, struct stat *st);
/*
 * fstatat(); @flags may add AFILE__AT_NOTIME: the timestamps are not
 * asked for (st_atim, st_mtim and st_ctim read as 0).  Since Linux 6.13
 * ext4, xfs, btrfs and tmpfs keep coarse timestamps until someone reads
 * them; a stat that does makes the file's next write stamp a fine-grained
 * time, a metadata update (a journal handle on ext4) per write.  Checks
 * of identity and size between writes ask without them.  Never passed to
 * the kernel; the fake tables may ignore it.
 */
#define AFILE__AT_NOTIME 0x40000000
AFILE_HIDDEN int afile__fstatat(
    int dfd, const char *path, struct stat *st, int flags);
AFILE_HIDDEN ssize_t afile__readlinkat(
    int dfd, const char *path, char *buf, size_t n);
AFILE_HIDDEN int afile__renameat2(
    int sdfd, const char *src, int ddfd, const char *dst, unsigned int flags);
AFILE_HIDDEN int afile__linkat(
    int sdfd, const char *src, int ddfd, const char *dst, int flags);
AFILE_HIDDEN int afile__unlinkat(int dfd, const char *path, int flags);
/* unlinkat for signal handlers: one try, errno preserved. */
AFILE_HIDDEN void afile__unlink_signal_safe(int dfd, const char *path);
AFILE_HIDDEN int afile__fallocate(int fd, uint64_t len);
/* Read up to @n bytes at @off; fewer only at the end of the file. */
AFILE_HIDDEN ssize_t afile__pread_all(
    int fd, void *buf, size_t n, uint64_t off);
AFILE_HIDDEN int afile__ftruncate(int fd, uint64_t len);
/* Reserve [@off, @off + @len) of @fd (FALLOC_FL_KEEP_SIZE: size unchanged). */
AFILE_HIDDEN int afile__fallocate_range(int fd, uint64_t off, uint64_t len);
/*
 * The generation of @fd's inode (FS_IOC_GETVERSION: ext4, xfs, btrfs),
 * which changes when an inode number is reused; 0 where the file system
 * has none.  Never fails.
 */
AFILE_HIDDEN uint64_t afile__file_gen(int fd);
/*
 * This boot's identity (/proc/sys/kernel/random/boot_id, read once per
 * process through the real table) into @out: 0, or -errno (no /proc).
 */
AFILE_HIDDEN int afile__boot_id(unsigned char out[16]);
/*
 * The size of @path (fstatat @flags, AT_EMPTY_PATH for @dfd itself) and
 * the unique id of the mount it is on (statx STATX_MNT_ID_UNIQUE, Linux
 * 6.8; never reused while the system runs), or 0 where the kernel has
 * none.  One system call.
 */
AFILE_HIDDEN int afile__stat_mnt(
    int dfd, const char *path, int flags, uint64_t *size, uint64_t *mnt);
AFILE_HIDDEN int afile__ficlone(int dst_fd, int src_fd);
AFILE_HIDDEN ssize_t afile__copy_file_range(
    int in_fd, uint64_t *in_off, int out_fd, uint64_t *out_off, size_t len);
AFILE_HIDDEN int afile__fchmod(int fd, mode_t mode);
AFILE_HIDDEN int afile__fchown(int fd, uid_t uid, gid_t gid);
AFILE_HIDDEN int afile__futimens(int fd, const struct timespec times[2]);
AFILE_HIDDEN ssize_t afile__flistxattr(int fd, char *list, size_t size);
AFILE_HIDDEN ssize_t afile__fgetxattr(
    int fd, const char *name, void *value, size_t size);
AFILE_HIDDEN ssize_t afile__llistxattr(
    const char *path, char *list, size_t size);
AFILE_HIDDEN ssize_t afile__lgetxattr(
    const char *path, const char *name, void *value, size_t size);
AFILE_HIDDEN int afile__fsetxattr(
    int fd, const char *name, const void *value, size_t size);
/*
 * Take (@type F_RDLCK or F_WRLCK) or drop (F_UNLCK) a whole-file lock on
 * @fd: an OFD lock, or flock() where OFD locks are missing.  @wait blocks.
 * Returns 0, -EAGAIN when held by another, or -errno.
 */
AFILE_HIDDEN int afile__lock_fd(int fd, short type, bool wait);
/* An OFD lock only, never waiting, no flock() fallback (afile_probe). */
AFILE_HIDDEN int afile__ofd_lock(int fd, short type);
/* Read directory entries (struct dirent64 records) from @fd. */
AFILE_HIDDEN ssize_t afile__getdents(int fd, void *buf, size_t n);
AFILE_HIDDEN void afile__sleep_ns(uint64_t ns);
AFILE_HIDDEN pid_t afile__getpid(void);
/* Descriptors a batch may hold: the soft limit less a reserve (64). */
AFILE_HIDDEN size_t afile__fd_budget(void);
/* Wall-clock seconds, for file ages. */
AFILE_HIDDEN int64_t afile__now_real_s(void);
AFILE_HIDDEN int afile__random(void *buf, size_t n);
AFILE_HIDDEN uid_t afile__geteuid(void);
AFILE_HIDDEN uint64_t afile__now_ns(void);
/*
 * Run @fn(@arg) on up to @n threads, the caller being one of them, and
 * join them all before returning how many ran (>= 1: a thread that cannot
 * be created is simply not there, the others share its work).  With the
 * sync entries of the table swapped (tests) only the caller runs it.
 */
#define AFILE__THREADS_MAX 64
AFILE_HIDDEN unsigned int afile__parallel(
    void *(*fn)(void *), void *arg, unsigned int n);
AFILE_HIDDEN void *afile__malloc(size_t n);
AFILE_HIDDEN void *afile__realloc(void *p, size_t n);
AFILE_HIDDEN void afile__free(void *p);

#endif /* AFILE_SYS_H */
