/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - shared fixtures and assertions for the cmocka unit tests.
 *
 * Every test runs in a fresh directory made by h_setup() (mkdtemp under
 * /tmp, mode 0755 so that an unprivileged child can search it) and removed
 * recursively by h_teardown().  The teardown also fails the test when a
 * temporary file (a name ending in ".afile-tmp") is left anywhere under
 * the directory or when the test leaked a file descriptor, so that every
 * test checks the library's "nothing left behind" promise without having
 * to say so.
 *
 * Tests that need root or a mount call h_skip(): it prints a loud
 * "SKIP: <reason>" line and skips the test, or fails it when the
 * environment sets AFILE_REQUIRE_PRIV_TESTS=1 (CI).  h_main_result() then
 * turns a run with skips and no failures into exit code 77, so that CTest
 * reports the skip instead of hiding it.
 *
 * Include this header instead of <cmocka.h>: it includes the headers
 * cmocka needs first, in the right order.
 */
#ifndef AFILE_TEST_HELPERS_H
#define AFILE_TEST_HELPERS_H

/* cmocka needs these before <cmocka.h>. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "atomicfile.h"

#define H_TMP_SUFFIX   ".afile-tmp"
/* The unprivileged user and group that the tests switch to. */
#define H_NOBODY       65534
/* Another owner that the unprivileged user is not and cannot become. */
#define H_OTHER        1234
#define H_MAX_MOUNTS   4
/* h_run_as()/h_run_child() result when the child died or lied. */
#define H_CHILD_FAILED INT_MIN

struct h_ctx {
	char dir[PATH_MAX]; /* absolute path of the test directory */
	int dfd;            /* O_DIRECTORY descriptor of dir */
	int nfd;            /* descriptors open before the test */
	int nmounts;
	char mounts[H_MAX_MOUNTS][PATH_MAX];
};

/* Fixtures: *state becomes a struct h_ctx *. */
int h_setup(void **state);
int h_teardown(void **state);

/*
 * Call first in main(): AFILE_TEST_FILTER=PATTERN runs only the matching
 * tests (cmocka_set_test_filter(), "*" and "?" wildcards), and
 * AFILE_TEST_SKIP=PATTERN skips the matching ones.
 */
void h_init(void);

/* The exit code of main(): failures, else 77 if anything skipped, else 0. */
int h_main_result(int failed);

/* Skip loudly, or fail under AFILE_REQUIRE_PRIV_TESTS=1. */
void h_skip_or_fail(const char *reason, const char *file, int line);
#define h_skip(reason) h_skip_or_fail((reason), __FILE__, __LINE__)
void h_require_root_at(const char *file, int line);
#define h_require_root() h_require_root_at(__FILE__, __LINE__)

/* "dir/name" in a rotating static buffer (8 live results at a time). */
const char *h_path(const struct h_ctx *c, const char *name);

/* File helpers, all relative to c->dfd; they fail the test on error. */
void h_put_at(const struct h_ctx *c, const char *name, const void *data,
    size_t len, mode_t mode, const char *file, int line);
#define h_put(c, name, data, len, mode) \
	h_put_at((c), (name), (data), (len), (mode), __FILE__, __LINE__)
#define h_puts(c, name, str) h_put((c), (name), (str), strlen(str), 0644)
void h_mkdir_at(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line);
#define h_mkdir(c, name, mode) \
	h_mkdir_at((c), (name), (mode), __FILE__, __LINE__)
void h_symlink_at(const struct h_ctx *c, const char *target, const char *name,
    const char *file, int line);
#define h_symlink(c, target, name) \
	h_symlink_at((c), (target), (name), __FILE__, __LINE__)
void h_lstat_at(const struct h_ctx *c, const char *name, struct stat *st,
    const char *file, int line);
#define h_lstat(c, name, st) h_lstat_at((c), (name), (st), __FILE__, __LINE__)
void h_chown_at(const struct h_ctx *c, const char *name, uid_t uid, gid_t gid,
    const char *file, int line);
#define h_chown(c, name, uid, gid) \
	h_chown_at((c), (name), (uid), (gid), __FILE__, __LINE__)
void h_chmod_at(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line);
#define h_chmod(c, name, mode) \
	h_chmod_at((c), (name), (mode), __FILE__, __LINE__)
/* Whether name exists (lstat succeeds). */
int h_exists(const struct h_ctx *c, const char *name);

/* Read a whole file (malloc()ed, NUL-terminated); NULL with errno set. */
char *h_slurp(const struct h_ctx *c, const char *name, size_t *ret_len);

/* Fill buf with a reproducible pattern that differs per seed. */
void h_pattern(void *buf, size_t len, unsigned int seed);

/* Assert the exact contents of a regular file (not following symlinks). */
void h_assert_file(const struct h_ctx *c, const char *name, const void *data,
    size_t len, const char *file, int line);
#define assert_file_mem(c, name, data, len) \
	h_assert_file((c), (name), (data), (len), __FILE__, __LINE__)
#define assert_file(c, name, str) \
	h_assert_file((c), (name), (str), strlen(str), __FILE__, __LINE__)

/*
 * Assert that directory dir (relative to c->dfd, "." for the test
 * directory) holds exactly the listed names, in any order.
 */
void h_assert_entries(
    const struct h_ctx *c, const char *dir, const char *file, int line, ...);
#define assert_entries(c, dir, ...) \
	h_assert_entries((c), (dir), __FILE__, __LINE__, __VA_ARGS__, NULL)
#define assert_empty_dir(c, dir) \
	h_assert_entries((c), (dir), __FILE__, __LINE__, NULL)

/* Assert that no name ending in ".afile-tmp" exists under dir (recursive). */
void h_assert_no_temps(const char *dir, const char *file, int line);
#define assert_no_temps(c) h_assert_no_temps((c)->dir, __FILE__, __LINE__)

/* Assert a library return value, naming both codes on failure. */
void h_assert_err(
    int got, int want, const char *expr, const char *file, int line);
#define assert_err(expr, want) \
	h_assert_err((expr), (want), #expr, __FILE__, __LINE__)
#define assert_ok(expr) h_assert_err((expr), 0, #expr, __FILE__, __LINE__)

/* Assert that an errinfo was filled for the failure r. */
void h_assert_errinfo(
    const struct afile_errinfo *e, int r, const char *file, int line);
#define assert_errinfo(e, r) h_assert_errinfo((e), (r), __FILE__, __LINE__)

/* Assert the permission bits (07777) of name (lstat). */
void h_assert_mode(const struct h_ctx *c, const char *name, mode_t mode,
    const char *file, int line);
#define assert_mode(c, name, mode) \
	h_assert_mode((c), (name), (mode), __FILE__, __LINE__)

/* Number of open descriptors of this process. */
int h_count_fds(void);

/*
 * Run fn in a fork()ed child and return its result through a pipe.
 * h_run_as() first drops to uid/gid with no supplementary groups (the
 * test must run as root; it skips otherwise).  Returns H_CHILD_FAILED if
 * the child did not report a result.
 */
typedef int h_child_fn(struct h_ctx *c, void *arg);
int h_run_child(struct h_ctx *c, h_child_fn *fn, void *arg);
int h_run_as(struct h_ctx *c, uid_t uid, gid_t gid, h_child_fn *fn, void *arg);

/*
 * Mount a small tmpfs at directory name (created) under the test
 * directory; skips when not root or when the mount fails.  h_teardown()
 * unmounts it.  h_remount_ro() makes it read-only.
 */
void h_mount_tmpfs_at(
    struct h_ctx *c, const char *name, const char *file, int line);
#define h_mount_tmpfs(c, name) h_mount_tmpfs_at((c), (name), __FILE__, __LINE__)
void h_remount_ro_at(
    struct h_ctx *c, const char *name, const char *file, int line);
#define h_remount_ro(c, name) h_remount_ro_at((c), (name), __FILE__, __LINE__)

/*
 * Set an extended attribute on name; skips the test when the file system
 * does not support it (ENOTSUP).
 */
void h_setxattr_at(const struct h_ctx *c, const char *name, const char *key,
    const void *value, size_t len, const char *file, int line);
#define h_setxattr(c, name, key, value, len) \
	h_setxattr_at((c), (name), (key), (value), (len), __FILE__, __LINE__)
/* Assert that name carries key with exactly value. */
void h_assert_xattr(const struct h_ctx *c, const char *name, const char *key,
    const void *value, size_t len, const char *file, int line);
#define assert_xattr(c, name, key, value, len) \
	h_assert_xattr((c), (name), (key), (value), (len), __FILE__, __LINE__)
/* The raw value of an xattr in a malloc()ed buffer; NULL if absent. */
void *h_getxattr(
    const struct h_ctx *c, const char *name, const char *key, size_t *ret_len);

/* Run a shell command; returns its exit status (or -1). */
int h_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* AFILE_TEST_HELPERS_H */
