"""atomicfile - atomic, crash-safe file operations (libatomicfile).

After any call, interrupted anywhere (an exception, kill -9, a power cut),
a path holds its complete old contents or its complete new contents, with
its mode, owner, extended attributes and ACLs kept.  By default every call
is durable when it returns (the file and its directory are synced).

    import atomicfile
    atomicfile.write_text("config.json", json.dumps(cfg))
    with atomicfile.atomic_write("out.txt") as f:   # atomicwrites' API
        f.write("hello")
    with atomicfile.transaction("db") as txn:       # several files at once
        txn.write("a.json", b"...")
        txn.remove("old.json")

Errors are OSError subclasses with .errno, .strerror, .filename and .step
(the failing step, e.g. "sync temporary file").  The GIL is released
around every blocking call.
"""

import contextlib
import errno as _errno
import os

from . import _atomicfile as _c

__all__ = [
    "write_bytes", "write_text", "read_bytes", "read_text", "remove",
    "copy", "rename", "patch", "update", "lock", "transaction",
    "atomic_write", "write_many", "recover", "Error", "PoisonedError",
    "UnsyncedError", "NotRegularError", "HardLinksError",
    "SourceKeptError", "CorruptError", "JournalError", "ProtectedError",
    "LIB_VERSION",
]

LIB_VERSION = _c.LIB_VERSION
__version__ = LIB_VERSION

_SYNC = {"full": 0, "data": 1, "none": 2}


class Error(OSError):
    """Base of every error raised by atomicfile.

    .errno is the errno (ENOENT, ...), or for the library's own codes the
    positive library code (5000 and up, never an errno); .code the library's
    return value (negative), .name its symbolic name ("ENOENT",
    "AFILE_ECORRUPT"), .step the failing step, .cause the errno behind a
    library code (negative)."""

    code = 0
    name = ""
    step = ""
    cause = 0


class PoisonedError(Error):
    """A write or sync failed earlier; the handle can only be freed."""


class UnsyncedError(Error):
    """Published, but the directory sync failed: visible, not durable."""


class NotRegularError(Error):
    """Not a regular file."""


class HardLinksError(Error):
    """The file has other hard links (replacing would detach them)."""


class SourceKeptError(Error):
    """Copied to the destination, but the source could not be removed."""


class CorruptError(Error):
    """Corrupt journal or checksum mismatch."""


class JournalError(Error):
    """An unfinished transaction needs recovery."""


class ProtectedError(Error):
    """Refused by the protected_* rules of a sticky directory (a file or
    symlink planted by another user)."""


_LIBRARY = {
    -5000: PoisonedError,
    -5001: UnsyncedError,
    -5002: NotRegularError,
    -5003: HardLinksError,
    -5004: SourceKeptError,
    -5005: CorruptError,
    -5006: JournalError,
    -5007: ProtectedError,
}

# errno -> (Error subclass that is also the matching builtin OSError
# subclass), so that "except FileNotFoundError" and "except atomicfile.Error"
# both work.
_BUILTIN = {
    _errno.ENOENT: FileNotFoundError,
    _errno.EEXIST: FileExistsError,
    _errno.EACCES: PermissionError,
    _errno.EPERM: PermissionError,
    _errno.EISDIR: IsADirectoryError,
    _errno.ENOTDIR: NotADirectoryError,
    _errno.EAGAIN: BlockingIOError,
    _errno.ETIMEDOUT: TimeoutError,
    _errno.EINTR: InterruptedError,
}
_ERRNO_CLASSES = {}


def _errno_class(e):
    base = _BUILTIN.get(e)
    if base is None:
        return Error
    cls = _ERRNO_CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (Error, base), {"__module__": __name__})
        _ERRNO_CLASSES[base] = cls
    return cls


def _make_error(code, cause, step, path):
    name, text = _c.strerror(code)
    if code in _LIBRARY:
        cls, num = _LIBRARY[code], -code
    else:
        cls, num = _errno_class(-code), -code
    msg = "%s: %s" % (step, text) if step else text
    exc = cls(num, msg, path if path else None)
    exc.code, exc.name, exc.step, exc.cause = code, name, step, cause
    return exc


_c._set_error_factory(_make_error)


def _sync(sync):
    try:
        return _SYNC[sync]
    except KeyError:
        raise ValueError("sync must be 'full', 'data' or 'none'") from None


def _flags(exclusive=False, follow_symlinks=True, break_hardlinks=False,
           owner_best_effort=False, lock=False, mode=None):
    f = 0
    if exclusive:
        f |= _c.NOREPLACE
    if not follow_symlinks:
        f |= _c.NOFOLLOW
    if break_hardlinks:
        f |= _c.BREAK_HARDLINKS
    if owner_best_effort:
        f |= _c.OWNER_BEST_EFFORT
    if lock:
        f |= _c.LOCK
    if mode is not None:
        f |= _c.SET_MODE
    return f


def _wait(timeout):
    """opts.lock_wait_ms: None waits forever (0), 0 tries once (-1)."""
    if timeout is None:
        return 0
    if timeout <= 0:
        return -1
    return max(1, int(timeout * 1000))


def write_bytes(path, data, *, mode=None, sync="full", exclusive=False,
                follow_symlinks=True, break_hardlinks=False,
                owner_best_effort=False, lock=False, lock_timeout=None):
    """Create or atomically replace PATH with DATA (bytes-like).

    mode: exact permission bits for the file (default: a new file gets
    0666 & ~umask, a replaced one keeps its mode).  exclusive: fail with
    FileExistsError if PATH exists.  lock: hold PATH's lock (see lock())
    during the write."""
    _c.write(path, data, _flags(exclusive, follow_symlinks, break_hardlinks,
                                owner_best_effort, lock, mode),
             _sync(sync), -1 if mode is None else mode, _wait(lock_timeout))


def write_text(path, text, encoding="utf-8", errors="strict", **kwargs):
    """write_bytes() of TEXT encoded with ENCODING."""
    write_bytes(path, text.encode(encoding, errors), **kwargs)


def read_bytes(path, *, follow_symlinks=True):
    """The whole contents of PATH (never half of a transaction)."""
    return _c.read(path, 0 if follow_symlinks else _c.NOFOLLOW)


def read_text(path, encoding="utf-8", errors="strict", **kwargs):
    return read_bytes(path, **kwargs).decode(encoding, errors)


def remove(path, *, sync="full", lock=False, lock_timeout=None):
    """Delete PATH durably (a symlink itself, never its target)."""
    _c.remove(path, _c.LOCK if lock else 0, _sync(sync), _wait(lock_timeout))


def copy(src, dst, *, mode=None, sync="full", exclusive=False,
         follow_symlinks=True, break_hardlinks=False, lock=False,
         lock_timeout=None):
    """Atomically copy SRC to DST with its metadata (reflink if possible)."""
    _c.copy(src, dst, _flags(exclusive, follow_symlinks, break_hardlinks,
                             False, lock, mode),
            _sync(sync), -1 if mode is None else mode, _wait(lock_timeout))


def rename(src, dst, *, sync="full", exclusive=False, exchange=False,
           owner_best_effort=False, lock=False, lock_timeout=None):
    """Rename durably, even across file systems.  exclusive: fail if DST
    exists; exchange: swap SRC and DST atomically."""
    f = _flags(exclusive, True, False, owner_best_effort, lock)
    if exchange:
        f |= _c.EXCHANGE
    _c.rename(src, dst, f, _sync(sync), -1, _wait(lock_timeout))


def patch(path, offset, data, *, sync="full", follow_symlinks=True,
          break_hardlinks=False, lock=False, lock_timeout=None):
    """Atomically replace the bytes at OFFSET of PATH with DATA."""
    _c.patch(path, offset, data,
             _flags(False, follow_symlinks, break_hardlinks, False, lock),
             _sync(sync), _wait(lock_timeout))


def update(path, fn, *, sync="full", timeout=None):
    """Locked read-modify-write: FN(old) -> new.

    FN gets the current contents (bytes, or None if PATH does not exist)
    and returns the new contents (bytes-like), or None to leave the file as
    it is.  PATH's exclusive lock is held throughout, so concurrent
    updaters (threads or processes) never lose an update.  An exception in
    FN leaves the file unchanged and propagates."""
    _c.update(path, fn, 0, _sync(sync), _wait(timeout))


class Lock:
    """A held lock of a path (see lock())."""

    def __init__(self, path, shared=False, timeout=None):
        if timeout is None:
            ms = -1
        else:
            ms = 0 if timeout <= 0 else max(1, int(timeout * 1000))
        self._cap = _c.lock_acquire(path, 1 if shared else 2, ms)

    def release(self):
        if self._cap is not None:
            _c.lock_release(self._cap)
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def lock(path, *, shared=False, timeout=None):
    """Lock PATH against other cooperating processes and threads:

        with atomicfile.lock("state.json"):
            ...

    The lock lives on a sidecar ".NAME.afile-lock" beside PATH and is the
    one that update() and lock=True take.  timeout: None waits as long as
    it takes, 0 tries once (BlockingIOError), seconds otherwise
    (TimeoutError)."""
    return Lock(path, shared, timeout)


class Transaction:
    """A transaction under a root directory (see transaction())."""

    def __init__(self, root, sync="full", timeout=None):
        self._cap = _c.txn_begin(root, _sync(sync), _wait(timeout))

    def write(self, path, data, *, break_hardlinks=False,
              owner_best_effort=False):
        """Stage new contents for PATH (relative to the root)."""
        _c.txn_op(self._cap, 0, path, data,
                  _flags(False, True, break_hardlinks, owner_best_effort))

    put = write

    def create(self, path, data):
        """Stage a file that must not exist at commit."""
        _c.txn_op(self._cap, 1, path, data, 0)

    def remove(self, path):
        _c.txn_op(self._cap, 2, path, b"", 0)

    def rename(self, src, dst):
        _c.txn_op(self._cap, 3, src, dst, 0)

    def commit(self):
        _c.txn_commit(self._cap)

    def discard(self):
        _c.txn_discard(self._cap)

    def __enter__(self):
        return self

    def __exit__(self, typ, value, tb):
        if typ is None:
            self.commit()
        else:
            self.discard()
        return False


def transaction(root, *, sync="full", timeout=None):
    """Change several files under ROOT all or nothing:

        with atomicfile.transaction("data") as txn:
            txn.write("a.json", b"...")
            txn.rename("b.tmp", "b.json")

    Commits when the block ends normally, rolls back (nothing visible
    changes) when it raises.  Paths are relative to ROOT."""
    return Transaction(root, sync, timeout)


def write_many(items, *, sync="full", follow_symlinks=True):
    """Replace many files, sharing the syncs: ITEMS is an iterable of
    (path, data) pairs; each file is replaced atomically on its own."""
    _c.write_many(list(items), 0 if follow_symlinks else _c.NOFOLLOW,
                  _sync(sync))


_RECOVER = {0: "none", 1: "redone", 2: "rolled_back", 3: "corrupt"}


def recover(root):
    """Finish or roll back an interrupted transaction under ROOT; returns
    a dict: action ('none', 'redone', 'rolled_back', 'corrupt'), txn_id,
    records, temps_removed."""
    action, txn_id, records, temps = _c.recover(root)
    return {"action": _RECOVER.get(action, str(action)), "txn_id": txn_id,
            "records": records, "temps_removed": temps}


class _Writer:
    def __init__(self, path, exclusive, mode, sync):
        self._cap = _c.writer_open(
            path, _flags(exclusive, True, False, False, False, mode),
            _sync(sync), -1 if mode is None else mode)

    def fileno(self):
        return _c.writer_fd(self._cap)

    def commit(self):
        _c.writer_commit(self._cap)

    def discard(self):
        _c.writer_discard(self._cap)


@contextlib.contextmanager
def atomic_write(path, mode="w", overwrite=True, *, file_mode=None,
                 sync="full", **open_kwargs):
    """The API of the archived atomicwrites package:

        with atomicfile.atomic_write("out.txt", overwrite=True) as f:
            f.write("hello")

    Yields a file object opened with MODE ('w', 'wb', 'x', 'xb'; other
    keyword arguments go to open()).  The new contents replace PATH when
    the block ends normally; an exception discards them.  overwrite=False
    (or an 'x' mode) fails with FileExistsError if PATH exists."""
    if "a" in mode or "r" in mode or "+" in mode:
        raise ValueError("atomic_write: mode must be 'w', 'wb', 'x' or 'xb'")
    if "x" in mode:
        overwrite = False
        mode = mode.replace("x", "w")
    w = _Writer(os.fspath(path), not overwrite, file_mode, sync)
    try:
        f = open(w.fileno(), mode, closefd=False, **open_kwargs)
        with f:
            yield f
            f.flush()
    except BaseException:
        w.discard()
        raise
    w.commit()
