/* SPDX-License-Identifier: MIT */
/*
 * stress.h - child processes, pipes and shared checks for the stress tests.
 *
 * The stress tests run real processes (fork) against one directory.  A
 * child never returns into cmocka: it runs a function that returns an exit
 * code and leaves with _exit(), printing its own diagnostics to stderr, so
 * that a failure in a child can only fail the parent's waitpid() check.
 * Every child is recorded until it is reaped; s_teardown() SIGKILLs and
 * reaps whatever a failed test left running before the unit helpers'
 * teardown removes the directory.  Children also die with the parent
 * (PR_SET_PDEATHSIG), so that a crashed test leaves no process behind.
 *
 * Synchronisation is by pipes only, never by sleeping: a child writes one
 * byte when it reached a point, and a read that returns end-of-file means
 * the other side died, which fails the test instead of hanging it.  No
 * test has a timing upper bound; CTest's TIMEOUT is the only one.
 */
#ifndef AFILE_STRESS_H
#define AFILE_STRESS_H

#include "helpers.h"

#include <stdbool.h>
#include <sys/types.h>

/* The parent's side of a child: its pid and one pipe each way. */
struct s_child {
	pid_t pid;
	int rd; /* bytes from the child */
	int wr; /* bytes to the child */
};

/*
 * A child's body.  @rd reads bytes from the parent, @wr writes bytes to
 * it; the return value is the child's exit code (0 for success).
 */
typedef int s_child_fn(struct h_ctx *c, int rd, int wr, void *arg);

/* Fixtures: h_setup()/h_teardown() plus the child registry. */
int s_setup(void **state);
int s_teardown(void **state);

/* Fork a child running @fn; fails the test if fork fails. */
void s_spawn(struct h_ctx *c, struct s_child *k, s_child_fn *fn, void *arg);
/* Wait for one byte from the child; fails the test on end-of-file. */
void s_wait_at(struct s_child *k, const char *file, int line);
#define s_wait(k) s_wait_at((k), __FILE__, __LINE__)
/* Send one byte to the child. */
void s_tell(struct s_child *k);
/* Close the pipes, wait for the child and return its wait status. */
int s_reap(struct s_child *k);
/* s_reap() and assert that the child exited with status 0. */
void s_reap_ok_at(struct s_child *k, const char *file, int line);
#define s_reap_ok(k) s_reap_ok_at((k), __FILE__, __LINE__)
/* SIGKILL the child and reap it. */
void s_kill(struct s_child *k);

/* In a child: send or receive one byte; s_recv() returns -1 on EOF. */
int s_send(int fd);
int s_recv(int fd);

/* Monotonic clock in nanoseconds. */
uint64_t s_now_ns(void);

/*
 * Hold the lock of @path in a child: s_hold() returns once the child holds
 * it (in @mode); s_release() lets the child release it and reaps it.
 */
void s_hold(
    struct h_ctx *c, struct s_child *k, const char *name, unsigned int mode);
void s_release(struct s_child *k);

/* afile_update() callback: increment a decimal counter (absent = 0). */
int s_increment(
    void *ctx, const void *old, size_t old_len, struct afile_writer *w);
/* Parse a decimal counter file; -1 if it is not one. */
long s_counter_value(const struct h_ctx *c, const char *name);

/*
 * Named temps: make the library believe the file system has no O_TMPFILE,
 * so that every temp gets a ".T.XXXXXXXXXXXX.afile-tmp" name at once.
 * Undone by s_teardown() (afile__sys_reset()).  Inherited by children.
 */
void s_named_temps(void);

/*
 * Count the temps of target @name in the test directory
 * (".NAME.<12>.afile-tmp"), and copy the first one's name to @first when
 * not NULL.
 */
int s_count_temps(
    const struct h_ctx *c, const char *name, char *first, size_t first_len);

/* Print a "# " figures line for the test log. */
void s_figures(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* AFILE_STRESS_H */
