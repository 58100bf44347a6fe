/* SPDX-License-Identifier: MIT */
/*
 * fault.h - fault injection through the library's syscall table.
 *
 * fault_install() puts a counting shim in front of every entry of
 * afile__sys that can fail.  Armed, the shims fail the n-th counted call
 * with a chosen errno, either once or persistently (that call's system
 * call then fails every time it is made again, as SQLite's
 * "test_syscall fault COUNT PERSIST" does), or make the n-th write short.
 * A failed close still closes the descriptor, as Linux does.  malloc and
 * realloc fail by returning NULL.
 *
 * A base layer under the shims can switch kernel features off
 * (O_TMPFILE, renameat2, FICLONE, copy_file_range), so the fallbacks run
 * through the same loops.
 */
#ifndef AFILE_TEST_FAULT_H
#define AFILE_TEST_FAULT_H

#include <stdbool.h>

enum fault_mode {
	FAULT_ONCE,
	FAULT_PERSIST,
	FAULT_SHORT_ONCE,    /* the n-th write-like call transfers less */
	FAULT_SHORT_PERSIST, /* every write-like call from the n-th on */
	FAULT_KILL, /* _exit(FAULT_KILLED) at the n-th call, before it */
};

/* Kernel features the base layer can hide. */
#define FEAT_NO_TMPFILE   0x1u /* O_TMPFILE fails with EOPNOTSUPP */
#define FEAT_NO_RENAMEAT2 0x2u /* renameat2 fails with ENOSYS */
#define FEAT_NO_FICLONE   0x4u /* FICLONE fails with EOPNOTSUPP */
#define FEAT_NO_CFR       0x8u /* copy_file_range fails with ENOSYS */

#define FAULT_KILLED 99

void fault_install(unsigned int hide_features);
void fault_uninstall(void);
void fault_arm(unsigned long n, int err, enum fault_mode mode);
void fault_disarm(void);
/* Calls counted since arming, and how many were failed or shortened. */
unsigned long fault_calls(void);
unsigned long fault_fired(void);
/* Name of the system call the first injected fault hit, for messages. */
const char *fault_site(void);

#endif
