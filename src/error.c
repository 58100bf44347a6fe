/* SPDX-License-Identifier: MIT */
/*
 * error.c - afile_strerror(), afile_err_name() and afile_version().
 *
 * Library codes come from the one X-macro list in the public header, as
 * switches without a default case so that -Wswitch names a code that was
 * added to the enum but not here.  Errnos are described with glibc's
 * strerrordesc_np()/strerrorname_np(), which return static strings and are
 * thread-safe, unlike strerror(), which may format into a shared buffer.
 * Where those are missing, a short table covers the errnos this library
 * returns.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "atomicfile.h"

const char *
afile_version(void)
{
	return AFILE_VERSION_STRING;
}

static const char *
lib_text(enum afile_error e)
{
	switch (e) {
#define AFILE__ERR_TEXT(name, value, text) \
	case AFILE_##name:                 \
		return text;
		AFILE_ERROR_MAP(AFILE__ERR_TEXT)
#undef AFILE__ERR_TEXT
	}
	return NULL;
}

static const char *
lib_name(enum afile_error e)
{
	switch (e) {
#define AFILE__ERR_NAME(name, value, text) \
	case AFILE_##name:                 \
		return "AFILE_" #name;
		AFILE_ERROR_MAP(AFILE__ERR_NAME)
#undef AFILE__ERR_NAME
	}
	return NULL;
}

static int
is_lib_code(int err)
{
	switch (err) {
#define AFILE__ERR_CASE(name, value, text) case AFILE_##name:
		AFILE_ERROR_MAP(AFILE__ERR_CASE)
#undef AFILE__ERR_CASE
		return 1;
	default:
		return 0;
	}
}

#ifndef HAVE_STRERRORDESC_NP
/* The errnos this library can return, for C libraries without the _np API. */
#define SYS_ERRNO_MAP(X)                                      \
	X(EPERM, "Operation not permitted")                   \
	X(ENOENT, "No such file or directory")                \
	X(EINTR, "Interrupted system call")                   \
	X(EIO, "Input/output error")                          \
	X(EBADF, "Bad file descriptor")                       \
	X(EAGAIN, "Resource temporarily unavailable")         \
	X(ENOMEM, "Cannot allocate memory")                   \
	X(EACCES, "Permission denied")                        \
	X(EBUSY, "Device or resource busy")                   \
	X(EEXIST, "File exists")                              \
	X(EXDEV, "Invalid cross-device link")                 \
	X(ENOTDIR, "Not a directory")                         \
	X(EISDIR, "Is a directory")                           \
	X(EINVAL, "Invalid argument")                         \
	X(ENFILE, "Too many open files in system")            \
	X(EMFILE, "Too many open files")                      \
	X(ETXTBSY, "Text file busy")                          \
	X(EFBIG, "File too large")                            \
	X(ENOSPC, "No space left on device")                  \
	X(EROFS, "Read-only file system")                     \
	X(EMLINK, "Too many links")                           \
	X(ENAMETOOLONG, "File name too long")                 \
	X(ENOSYS, "Function not implemented")                 \
	X(ENOTEMPTY, "Directory not empty")                   \
	X(ELOOP, "Too many levels of symbolic links")         \
	X(ENODATA, "No data available")                       \
	X(EOVERFLOW, "Value too large for defined data type") \
	X(ENOTSUP, "Operation not supported")                 \
	X(ETIMEDOUT, "Connection timed out")                  \
	X(ESTALE, "Stale file handle")                        \
	X(EDQUOT, "Disk quota exceeded")                      \
	X(ECANCELED, "Operation canceled")

static const char *
sys_text(int e)
{
	switch (e) {
#define SYS_TEXT(name, text) \
	case name:           \
		return text;
		SYS_ERRNO_MAP(SYS_TEXT)
#undef SYS_TEXT
	}
	return NULL;
}

static const char *
sys_name(int e)
{
	switch (e) {
#define SYS_NAME(name, text) \
	case name:           \
		return #name;
		SYS_ERRNO_MAP(SYS_NAME)
#undef SYS_NAME
	}
	return NULL;
}
#else
static const char *
sys_text(int e)
{
	return strerrordesc_np(e);
}

static const char *
sys_name(int e)
{
	return strerrorname_np(e);
}
#endif

const char *
afile_strerror(int err)
{
	const char *s = NULL;

	if (err == 0)
		return "success";
	if (is_lib_code(err))
		s = lib_text((enum afile_error)err);
	else if (err < 0 && err > -4096)
		s = sys_text(-err);
	return s ? s : "unknown error";
}

const char *
afile_err_name(int err)
{
	const char *s = NULL;

	if (err == 0)
		return "OK";
	if (is_lib_code(err))
		s = lib_name((enum afile_error)err);
	else if (err < 0 && err > -4096)
		s = sys_name(-err);
	return s ? s : "UNKNOWN";
}
