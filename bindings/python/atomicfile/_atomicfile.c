/* SPDX-License-Identifier: MIT */
/*
 * _atomicfile.c - the CPython extension under the atomicfile package: thin
 * calls into libatomicfile (compiled in), the GIL released around every
 * call that may block.  The Pythonic surface (keyword options, context
 * managers, exception classes) is in __init__.py.
 *
 * Every function takes paths as str, bytes or os.PathLike (converted with
 * PyUnicode_FSConverter) and raises through the error factory that
 * __init__.py installs: factory(code, cause, step, path) returns the
 * exception to raise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <atomicfile.h>

static PyObject *error_factory;

/* Raise the exception for library result R (negative), with its detail. */
static PyObject *
raise_code(int r, const struct afile_errinfo *ei, const char *fallback_path)
{
	PyObject *exc;
	const char *step = "";
	const char *path = fallback_path != NULL ? fallback_path : "";
	int cause = r;

	if (ei != NULL && ei->step != NULL) {
		step = ei->step;
		cause = ei->cause;
		if (ei->path[0] != '\0')
			path = ei->path;
	}
	if (error_factory == NULL) {
		errno = r > -4096 ? -r : EIO;
		return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
	}
	exc = PyObject_CallFunction(error_factory, "iisO&", r, cause, step,
	    PyUnicode_DecodeFSDefault, path);
	if (exc == NULL)
		return NULL;
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

static int
init_opts(struct afile_opts *o, struct afile_errinfo *ei, unsigned int sync,
    int mode, int lock_wait_ms)
{
	memset(o, 0, sizeof(*o));
	o->size = sizeof(*o);
	o->sync = sync;
	o->mode = mode >= 0 ? (mode_t)mode : 0;
	o->err = ei;
	o->lock_wait_ms = lock_wait_ms;
	memset(ei, 0, sizeof(*ei));
	return 0;
}

/* write(path, data, flags, sync, mode) */
static PyObject *
py_write(PyObject *self, PyObject *args)
{
	PyObject *path = NULL;
	Py_buffer data;
	unsigned int flags, sync;
	int mode, wait, r;
	struct afile_opts o;
	struct afile_errinfo ei;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&y*IIii", PyUnicode_FSConverter, &path,
		&data, &flags, &sync, &mode, &wait))
		return NULL;
	init_opts(&o, &ei, sync, mode, wait);
	Py_BEGIN_ALLOW_THREADS r = afile_write(AT_FDCWD,
	    PyBytes_AS_STRING(path), data.buf, (size_t)data.len, flags, &o);
	Py_END_ALLOW_THREADS PyBuffer_Release(&data);
	if (r < 0) {
		raise_code(r, &ei, PyBytes_AS_STRING(path));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	Py_RETURN_NONE;
}

/* read(path, flags) -> bytes */
static PyObject *
py_read(PyObject *self, PyObject *args)
{
	PyObject *path = NULL, *res;
	unsigned int flags;
	void *buf = NULL;
	size_t len = 0;
	int r;
	struct afile_opts o;
	struct afile_errinfo ei;

	(void)self;
	if (!PyArg_ParseTuple(
		args, "O&I", PyUnicode_FSConverter, &path, &flags))
		return NULL;
	init_opts(&o, &ei, 0, -1, 0);
	Py_BEGIN_ALLOW_THREADS r = afile_read(
	    AT_FDCWD, PyBytes_AS_STRING(path), &buf, &len, flags, &o);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		raise_code(r, &ei, PyBytes_AS_STRING(path));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	res = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
	free(buf);
	return res;
}

/* remove(path, flags, sync, wait) */
static PyObject *
py_remove(PyObject *self, PyObject *args)
{
	PyObject *path = NULL;
	unsigned int flags, sync;
	int wait, r;
	struct afile_opts o;
	struct afile_errinfo ei;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&IIi", PyUnicode_FSConverter, &path,
		&flags, &sync, &wait))
		return NULL;
	init_opts(&o, &ei, sync, -1, wait);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_remove(AT_FDCWD, PyBytes_AS_STRING(path), flags, &o);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		raise_code(r, &ei, PyBytes_AS_STRING(path));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	Py_RETURN_NONE;
}

/* copy(src, dst, flags, sync, mode, wait) and rename(...) */
static PyObject *
two_paths(PyObject *args, int is_copy)
{
	PyObject *src = NULL, *dst = NULL;
	unsigned int flags, sync;
	int mode, wait, r;
	struct afile_opts o;
	struct afile_errinfo ei;

	if (!PyArg_ParseTuple(args, "O&O&IIii", PyUnicode_FSConverter, &src,
		PyUnicode_FSConverter, &dst, &flags, &sync, &mode, &wait))
		return NULL;
	init_opts(&o, &ei, sync, mode, wait);
	Py_BEGIN_ALLOW_THREADS if (is_copy) r =
	    afile_copy(AT_FDCWD, PyBytes_AS_STRING(src), AT_FDCWD,
		PyBytes_AS_STRING(dst), flags, &o);
	else r = afile_rename(AT_FDCWD, PyBytes_AS_STRING(src), AT_FDCWD,
	    PyBytes_AS_STRING(dst), flags, &o);
	Py_END_ALLOW_THREADS if (r < 0)
	    raise_code(r, &ei, PyBytes_AS_STRING(dst));
	Py_DECREF(src);
	Py_DECREF(dst);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
py_copy(PyObject *self, PyObject *args)
{
	(void)self;
	return two_paths(args, 1);
}

static PyObject *
py_rename(PyObject *self, PyObject *args)
{
	(void)self;
	return two_paths(args, 0);
}

/* patch(path, offset, data, flags, sync, wait) */
static PyObject *
py_patch(PyObject *self, PyObject *args)
{
	PyObject *path = NULL;
	unsigned long long off;
	Py_buffer data;
	unsigned int flags, sync;
	int wait, r;
	struct afile_opts o;
	struct afile_errinfo ei;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&Ky*IIi", PyUnicode_FSConverter, &path,
		&off, &data, &flags, &sync, &wait))
		return NULL;
	init_opts(&o, &ei, sync, -1, wait);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_patch(AT_FDCWD, PyBytes_AS_STRING(path), off, data.buf,
		(size_t)data.len, flags, &o);
	Py_END_ALLOW_THREADS PyBuffer_Release(&data);
	if (r < 0)
		raise_code(r, &ei, PyBytes_AS_STRING(path));
	Py_DECREF(path);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* update(path, fn, flags, sync, wait): fn(old or None) -> bytes or None */
struct update_ctx {
	PyThreadState *ts;
	PyObject *fn;
	int failed; /* fn raised or returned a bad value */
};

static int
update_cb(void *arg, const void *old, size_t old_len, struct afile_writer *w)
{
	struct update_ctx *u = arg;
	PyObject *oldobj, *res;
	Py_buffer view;
	int r = 0;

	PyEval_RestoreThread(u->ts);
	if (old != NULL)
		oldobj = PyBytes_FromStringAndSize(old, (Py_ssize_t)old_len);
	else
		oldobj = Py_NewRef(Py_None);
	if (oldobj == NULL) {
		u->failed = 1;
		u->ts = PyEval_SaveThread();
		return -ECANCELED;
	}
	res = PyObject_CallOneArg(u->fn, oldobj);
	Py_DECREF(oldobj);
	if (res == NULL) {
		u->failed = 1;
		r = -ECANCELED;
	} else if (res == Py_None) {
		r = AFILE_UPDATE_KEEP;
	} else if (PyObject_GetBuffer(res, &view, PyBUF_SIMPLE) < 0) {
		u->failed = 1;
		r = -ECANCELED;
	} else {
		u->ts = PyEval_SaveThread();
		r = afile_writer_write(w, view.buf, (size_t)view.len);
		PyEval_RestoreThread(u->ts);
		PyBuffer_Release(&view);
	}
	Py_XDECREF(res);
	u->ts = PyEval_SaveThread();
	return r;
}

static PyObject *
py_update(PyObject *self, PyObject *args)
{
	PyObject *path = NULL, *fn;
	unsigned int flags, sync;
	int wait, r;
	struct afile_opts o;
	struct afile_errinfo ei;
	struct update_ctx u;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&OIIi", PyUnicode_FSConverter, &path, &fn,
		&flags, &sync, &wait))
		return NULL;
	init_opts(&o, &ei, sync, -1, wait);
	u.fn = fn;
	u.failed = 0;
	u.ts = PyEval_SaveThread();
	r = afile_update(
	    AT_FDCWD, PyBytes_AS_STRING(path), update_cb, &u, flags, &o);
	PyEval_RestoreThread(u.ts);
	if (u.failed) {
		Py_DECREF(path);
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError,
			    "update: the function must return bytes or None");
		return NULL;
	}
	if (r < 0)
		raise_code(r, &ei, PyBytes_AS_STRING(path));
	Py_DECREF(path);
	if (r < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* ---------------- capsule handles: writer, lock, transaction ---------- */

struct pwriter {
	struct afile_writer *w;
	struct afile_errinfo ei;
	char path[4096];
};

static void
writer_capsule_free(PyObject *cap)
{
	struct pwriter *pw = PyCapsule_GetPointer(cap, "afile_writer");

	if (pw != NULL) {
		afile_writer_free(pw->w);
		free(pw);
	}
}

static struct pwriter *
get_writer(PyObject *cap)
{
	struct pwriter *pw = PyCapsule_GetPointer(cap, "afile_writer");

	if (pw != NULL && pw->w == NULL) {
		PyErr_SetString(PyExc_ValueError, "the writer is closed");
		return NULL;
	}
	return pw;
}

/* writer_open(path, flags, sync, mode) -> capsule */
static PyObject *
py_writer_open(PyObject *self, PyObject *args)
{
	PyObject *path = NULL, *cap;
	unsigned int flags, sync;
	int mode, r;
	struct afile_opts o;
	struct pwriter *pw;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&IIi", PyUnicode_FSConverter, &path,
		&flags, &sync, &mode))
		return NULL;
	pw = calloc(1, sizeof(*pw));
	if (pw == NULL) {
		Py_DECREF(path);
		return PyErr_NoMemory();
	}
	(void)snprintf(
	    pw->path, sizeof(pw->path), "%s", PyBytes_AS_STRING(path));
	init_opts(&o, &pw->ei, sync, mode, 0);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_writer_open(AT_FDCWD, pw->path, flags, &o, &pw->w);
	Py_END_ALLOW_THREADS Py_DECREF(path);
	if (r < 0) {
		raise_code(r, &pw->ei, pw->path);
		free(pw);
		return NULL;
	}
	cap = PyCapsule_New(pw, "afile_writer", writer_capsule_free);
	if (cap == NULL) {
		afile_writer_free(pw->w);
		free(pw);
	}
	return cap;
}

static PyObject *
py_writer_write(PyObject *self, PyObject *args)
{
	PyObject *cap;
	Py_buffer data;
	struct pwriter *pw;
	int r;

	(void)self;
	if (!PyArg_ParseTuple(args, "Oy*", &cap, &data))
		return NULL;
	pw = get_writer(cap);
	if (pw == NULL) {
		PyBuffer_Release(&data);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS r =
	    afile_writer_write(pw->w, data.buf, (size_t)data.len);
	Py_END_ALLOW_THREADS PyBuffer_Release(&data);
	if (r < 0)
		return raise_code(r, NULL, pw->path);
	Py_RETURN_NONE;
}

static PyObject *
py_writer_fd(PyObject *self, PyObject *cap)
{
	struct pwriter *pw = get_writer(cap);
	int r;

	(void)self;
	if (pw == NULL)
		return NULL;
	r = afile_writer_fd(pw->w);
	if (r < 0)
		return raise_code(r, NULL, pw->path);
	return PyLong_FromLong(r);
}

static PyObject *
py_writer_commit(PyObject *self, PyObject *cap)
{
	struct pwriter *pw = get_writer(cap);
	int r;

	(void)self;
	if (pw == NULL)
		return NULL;
	Py_BEGIN_ALLOW_THREADS r = afile_writer_commit(pw->w);
	afile_writer_free(pw->w);
	Py_END_ALLOW_THREADS pw->w = NULL;
	if (r < 0)
		return raise_code(r, &pw->ei, pw->path);
	Py_RETURN_NONE;
}

static PyObject *
py_writer_discard(PyObject *self, PyObject *cap)
{
	struct pwriter *pw = PyCapsule_GetPointer(cap, "afile_writer");

	(void)self;
	if (pw == NULL)
		return NULL;
	Py_BEGIN_ALLOW_THREADS afile_writer_free(pw->w);
	Py_END_ALLOW_THREADS pw->w = NULL;
	Py_RETURN_NONE;
}

static void
lock_capsule_free(PyObject *cap)
{
	struct afile_lock **l = PyCapsule_GetPointer(cap, "afile_lock");

	if (l != NULL) {
		afile_lock_release(*l);
		free(l);
	}
}

/* lock_acquire(path, mode, timeout_ms) -> capsule */
static PyObject *
py_lock_acquire(PyObject *self, PyObject *args)
{
	PyObject *path = NULL, *cap;
	unsigned int mode;
	int timeout, r;
	struct afile_lock **l;

	(void)self;
	if (!PyArg_ParseTuple(
		args, "O&Ii", PyUnicode_FSConverter, &path, &mode, &timeout))
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		Py_DECREF(path);
		return PyErr_NoMemory();
	}
	Py_BEGIN_ALLOW_THREADS r = afile_lock_acquire(
	    AT_FDCWD, PyBytes_AS_STRING(path), mode, timeout, l);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		raise_code(r, NULL, PyBytes_AS_STRING(path));
		Py_DECREF(path);
		free(l);
		return NULL;
	}
	Py_DECREF(path);
	cap = PyCapsule_New(l, "afile_lock", lock_capsule_free);
	if (cap == NULL) {
		afile_lock_release(*l);
		free(l);
	}
	return cap;
}

static PyObject *
py_lock_release(PyObject *self, PyObject *cap)
{
	struct afile_lock **l = PyCapsule_GetPointer(cap, "afile_lock");

	(void)self;
	if (l == NULL)
		return NULL;
	afile_lock_release(*l);
	*l = NULL;
	Py_RETURN_NONE;
}

struct ptxn {
	struct afile_txn *t;
	struct afile_errinfo ei;
	char root[4096];
};

static void
txn_capsule_free(PyObject *cap)
{
	struct ptxn *pt = PyCapsule_GetPointer(cap, "afile_txn");

	if (pt != NULL) {
		afile_txn_free(pt->t);
		free(pt);
	}
}

static struct ptxn *
get_txn(PyObject *cap)
{
	struct ptxn *pt = PyCapsule_GetPointer(cap, "afile_txn");

	if (pt != NULL && pt->t == NULL) {
		PyErr_SetString(PyExc_ValueError, "the transaction has ended");
		return NULL;
	}
	return pt;
}

/* txn_begin(root, sync, wait) -> capsule */
static PyObject *
py_txn_begin(PyObject *self, PyObject *args)
{
	PyObject *root = NULL, *cap;
	unsigned int sync;
	int wait, r;
	struct afile_opts o;
	struct ptxn *pt;

	(void)self;
	if (!PyArg_ParseTuple(
		args, "O&Ii", PyUnicode_FSConverter, &root, &sync, &wait))
		return NULL;
	pt = calloc(1, sizeof(*pt));
	if (pt == NULL) {
		Py_DECREF(root);
		return PyErr_NoMemory();
	}
	(void)snprintf(
	    pt->root, sizeof(pt->root), "%s", PyBytes_AS_STRING(root));
	Py_DECREF(root);
	init_opts(&o, &pt->ei, sync, -1, wait);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_txn_begin(AT_FDCWD, pt->root, 0, &o, &pt->t);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		raise_code(r, &pt->ei, pt->root);
		free(pt);
		return NULL;
	}
	cap = PyCapsule_New(pt, "afile_txn", txn_capsule_free);
	if (cap == NULL) {
		afile_txn_free(pt->t);
		free(pt);
	}
	return cap;
}

/* txn_op(cap, op, path, data_or_to, flags): op 0 put, 1 create, 2 remove,
 * 3 rename */
static PyObject *
py_txn_op(PyObject *self, PyObject *args)
{
	PyObject *cap, *path = NULL, *arg, *to = NULL;
	Py_buffer data = {0};
	unsigned int flags;
	int op, r;
	struct ptxn *pt;

	(void)self;
	if (!PyArg_ParseTuple(args, "OiO&OI", &cap, &op, PyUnicode_FSConverter,
		&path, &arg, &flags))
		return NULL;
	pt = get_txn(cap);
	if (pt == NULL)
		goto fail;
	if (op <= 1 && PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
		goto fail;
	if (op == 3 && !PyUnicode_FSConverter(arg, &to))
		goto fail;
	Py_BEGIN_ALLOW_THREADS switch (op)
	{
	case 0:
		r = afile_txn_put(pt->t, PyBytes_AS_STRING(path), data.buf,
		    (size_t)data.len, flags);
		break;
	case 1:
		r = afile_txn_create(pt->t, PyBytes_AS_STRING(path), data.buf,
		    (size_t)data.len, flags);
		break;
	case 2:
		r = afile_txn_remove(pt->t, PyBytes_AS_STRING(path), flags);
		break;
	default:
		r = afile_txn_rename(pt->t, PyBytes_AS_STRING(path),
		    PyBytes_AS_STRING(to), flags);
		break;
	}
	Py_END_ALLOW_THREADS if (data.obj != NULL) PyBuffer_Release(&data);
	Py_XDECREF(to);
	if (r < 0) {
		raise_code(r, NULL, PyBytes_AS_STRING(path));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	Py_RETURN_NONE;
fail:
	Py_XDECREF(path);
	return NULL;
}

static PyObject *
py_txn_commit(PyObject *self, PyObject *cap)
{
	struct ptxn *pt = get_txn(cap);
	int r;

	(void)self;
	if (pt == NULL)
		return NULL;
	Py_BEGIN_ALLOW_THREADS r = afile_txn_commit(pt->t);
	afile_txn_free(pt->t);
	Py_END_ALLOW_THREADS pt->t = NULL;
	if (r < 0)
		return raise_code(r, &pt->ei, pt->root);
	Py_RETURN_NONE;
}

static PyObject *
py_txn_discard(PyObject *self, PyObject *cap)
{
	struct ptxn *pt = PyCapsule_GetPointer(cap, "afile_txn");

	(void)self;
	if (pt == NULL)
		return NULL;
	Py_BEGIN_ALLOW_THREADS afile_txn_free(pt->t);
	Py_END_ALLOW_THREADS pt->t = NULL;
	Py_RETURN_NONE;
}

/* recover(root) -> (action, txn_id, records, temps_removed) */
static PyObject *
py_recover(PyObject *self, PyObject *args)
{
	PyObject *root = NULL;
	struct afile_recover_report rep;
	int r;

	(void)self;
	if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &root))
		return NULL;
	memset(&rep, 0, sizeof(rep));
	rep.size = sizeof(rep);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_recover(AT_FDCWD, PyBytes_AS_STRING(root), 0, &rep);
	Py_END_ALLOW_THREADS if (r < 0)
	{
		raise_code(r, NULL, PyBytes_AS_STRING(root));
		Py_DECREF(root);
		return NULL;
	}
	Py_DECREF(root);
	return Py_BuildValue("iKKK", rep.action, (unsigned long long)rep.txn_id,
	    (unsigned long long)rep.records,
	    (unsigned long long)rep.temps_removed);
}

/* write_many([(path, data), ...], flags, sync) */
static PyObject *
py_write_many(PyObject *self, PyObject *args)
{
	PyObject *seq, *fast = NULL, **paths = NULL;
	Py_buffer *views = NULL;
	struct afile_item *items = NULL;
	unsigned int flags, sync;
	Py_ssize_t n, i, done = 0;
	struct afile_opts o;
	struct afile_errinfo ei;
	int r = 0;
	PyObject *ret = NULL;

	(void)self;
	if (!PyArg_ParseTuple(args, "OII", &seq, &flags, &sync))
		return NULL;
	fast = PySequence_Fast(seq, "write_many: a sequence of (path, data)");
	if (fast == NULL)
		return NULL;
	n = PySequence_Fast_GET_SIZE(fast);
	paths = calloc((size_t)n + 1, sizeof(*paths));
	views = calloc((size_t)n + 1, sizeof(*views));
	items = calloc((size_t)n + 1, sizeof(*items));
	if (paths == NULL || views == NULL || items == NULL) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < n; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(fast, i), *p, *d;

		if (!PyArg_ParseTuple(it, "OO", &p, &d))
			goto out;
		if (!PyUnicode_FSConverter(p, &paths[i]))
			goto out;
		if (PyObject_GetBuffer(d, &views[i], PyBUF_SIMPLE) < 0) {
			Py_CLEAR(paths[i]);
			goto out;
		}
		done = i + 1;
		items[i].path = PyBytes_AS_STRING(paths[i]);
		items[i].buf = views[i].buf;
		items[i].len = (size_t)views[i].len;
	}
	init_opts(&o, &ei, sync, -1, 0);
	Py_BEGIN_ALLOW_THREADS r =
	    afile_write_many(AT_FDCWD, items, (size_t)n, flags, &o);
	Py_END_ALLOW_THREADS if (r < 0) raise_code(r, &ei, NULL);
	else ret = Py_NewRef(Py_None);
out:
	for (i = 0; i < done; i++) {
		Py_XDECREF(paths[i]);
		PyBuffer_Release(&views[i]);
	}
	free(paths);
	free(views);
	free(items);
	Py_DECREF(fast);
	return ret;
}

static PyObject *
py_set_error_factory(PyObject *self, PyObject *fn)
{
	(void)self;
	Py_XSETREF(error_factory, Py_NewRef(fn));
	Py_RETURN_NONE;
}

static PyObject *
py_strerror(PyObject *self, PyObject *args)
{
	int code;

	(void)self;
	if (!PyArg_ParseTuple(args, "i", &code))
		return NULL;
	return Py_BuildValue("ss", afile_err_name(code), afile_strerror(code));
}

static PyMethodDef methods[] = {
    {"write", py_write, METH_VARARGS, NULL},
    {"read", py_read, METH_VARARGS, NULL},
    {"remove", py_remove, METH_VARARGS, NULL},
    {"copy", py_copy, METH_VARARGS, NULL},
    {"rename", py_rename, METH_VARARGS, NULL},
    {"patch", py_patch, METH_VARARGS, NULL},
    {"update", py_update, METH_VARARGS, NULL},
    {"writer_open", py_writer_open, METH_VARARGS, NULL},
    {"writer_write", py_writer_write, METH_VARARGS, NULL},
    {"writer_fd", py_writer_fd, METH_O, NULL},
    {"writer_commit", py_writer_commit, METH_O, NULL},
    {"writer_discard", py_writer_discard, METH_O, NULL},
    {"lock_acquire", py_lock_acquire, METH_VARARGS, NULL},
    {"lock_release", py_lock_release, METH_O, NULL},
    {"txn_begin", py_txn_begin, METH_VARARGS, NULL},
    {"txn_op", py_txn_op, METH_VARARGS, NULL},
    {"txn_commit", py_txn_commit, METH_O, NULL},
    {"txn_discard", py_txn_discard, METH_O, NULL},
    {"recover", py_recover, METH_VARARGS, NULL},
    {"write_many", py_write_many, METH_VARARGS, NULL},
    {"strerror", py_strerror, METH_VARARGS, NULL},
    {"_set_error_factory", py_set_error_factory, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "atomicfile._atomicfile",
    "libatomicfile, compiled in (see the atomicfile package).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__atomicfile(void)
{
	PyObject *m = PyModule_Create(&module);

	if (m == NULL)
		return NULL;
	if (PyModule_AddStringConstant(m, "LIB_VERSION", afile_version()) < 0 ||
	    PyModule_AddIntConstant(m, "NOREPLACE", AFILE_NOREPLACE) < 0 ||
	    PyModule_AddIntConstant(m, "NOFOLLOW", AFILE_NOFOLLOW) < 0 ||
	    PyModule_AddIntConstant(
		m, "BREAK_HARDLINKS", AFILE_BREAK_HARDLINKS) < 0 ||
	    PyModule_AddIntConstant(
		m, "OWNER_BEST_EFFORT", AFILE_OWNER_BEST_EFFORT) < 0 ||
	    PyModule_AddIntConstant(m, "EXCHANGE", AFILE_EXCHANGE) < 0 ||
	    PyModule_AddIntConstant(m, "SET_MODE", AFILE_SET_MODE) < 0 ||
	    PyModule_AddIntConstant(m, "LOCK", AFILE_LOCK) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
