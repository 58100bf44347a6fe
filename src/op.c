/* SPDX-License-Identifier: MIT */
/*
 * op.c - the per-call context: option checking, error detail, statistics.
 *
 * Every public call starts with afile__op_init() and ends with
 * afile__op_done().  In between, every error path goes through
 * afile__fail(), which records the first failing step and path in the
 * caller's struct afile_errinfo.  The first failure wins because cleanup
 * after it may fail too, and the caller wants the cause, not the echo.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int
afile__op_init(struct afile__op *op, unsigned int flags, unsigned int allowed,
    const struct afile_opts *opts)
{
	memset(op, 0, sizeof(*op));
	if (opts) {
		if (opts->size != sizeof(*opts))
			return -EINVAL;
		op->err = opts->err;
		if (opts->sync > AFILE_SYNC_NONE)
			return afile__fail(op, -EINVAL, "check options", "");
		op->sync = opts->sync;
		op->mode = opts->mode;
		op->size_hint = opts->size_hint;
		op->ret_sync = opts->ret_sync;
		op->progress = opts->progress;
		op->progress_ctx = opts->progress_ctx;
		op->lock_wait_ms = opts->lock_wait_ms;
		if (opts->lock_wait_ms < AFILE_LOCK_TRY)
			return afile__fail(op, -EINVAL, "check options", "");
		if ((flags & AFILE_SET_MODE) && (opts->mode & ~(mode_t)07777))
			return afile__fail(op, -EINVAL, "check options", "");
	}
	op->achieved = op->sync;
	if (flags & ~allowed)
		return afile__fail(op, -EINVAL, "check flags", "");
	if ((flags & AFILE_SET_MODE) && !opts)
		return afile__fail(op, -EINVAL, "check options", "");
	return 0;
}

int
afile__fail_cause(struct afile__op *op, int code, int cause, const char *step,
    const char *path)
{
	struct afile_errinfo *e = op->err;

	if (e && !op->failed) {
		op->failed = true;
		e->code = code;
		e->cause = cause;
		e->step = step;
		if (!path)
			path = "";
		strncpy(e->path, path, sizeof(e->path) - 1);
		e->path[sizeof(e->path) - 1] = '\0';
	}
	return code;
}

int
afile__fail(struct afile__op *op, int code, const char *step, const char *path)
{
	return afile__fail_cause(op, code, code, step, path);
}

uid_t
afile__op_euid(struct afile__op *op)
{
	if (!op->have_euid) {
		op->euid = afile__geteuid();
		op->have_euid = true;
	}
	return op->euid;
}

int
afile__op_done(struct afile__op *op, int r)
{
	if (r == 0) {
		afile__stat_add(AFILE__STAT_OPS, 1);
		if (op->ret_sync)
			*op->ret_sync = op->achieved;
		return 0;
	}
	afile__stat_add(AFILE__STAT_FAILURES, 1);
	/*
	 * The detail names the first failing step; when the call returns
	 * another code for it (AFILE_EUNSYNCED, AFILE_EJOURNAL), .code
	 * becomes that code and .cause keeps what the step reported.
	 */
	if (op->err && op->failed && op->err->code != r) {
		op->err->cause = op->err->code;
		op->err->code = r;
	}
	/* A failure the callee did not name still gets a step. */
	return afile__fail(op, r, "operation", "");
}
