"""Tests of the atomicfile Python package (Debian's python3-pytest)."""
import errno
import os
import pathlib
import stat
import threading

import pytest

import atomicfile


def temps(d):
    return [n for n in os.listdir(d) if n.endswith((".afile-tmp", ".afile-txn"))]


def test_write_read_roundtrip(tmp_path):
    p = tmp_path / "f"
    atomicfile.write_bytes(p, b"hello")
    assert atomicfile.read_bytes(p) == b"hello"
    atomicfile.write_text(str(p), "h\u00e9", encoding="utf-8")
    assert p.read_bytes() == "h\u00e9".encode()
    assert atomicfile.read_text(os.fsencode(p)) == "h\u00e9"
    atomicfile.write_bytes(p, bytearray(b"ba"), sync="none")
    atomicfile.write_bytes(p, memoryview(b"mv"), sync="data")
    assert p.read_bytes() == b"mv"
    assert temps(tmp_path) == []


def test_pathlike(tmp_path):
    class P:
        def __fspath__(self):
            return str(tmp_path / "pl")

    atomicfile.write_bytes(P(), b"x")
    assert (tmp_path / "pl").read_bytes() == b"x"


def test_replace_keeps_mode_and_set_mode(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    atomicfile.write_bytes(p, b"new")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    atomicfile.write_bytes(p, b"new", mode=0o600)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_errors_are_oserrors(tmp_path):
    missing = tmp_path / "nope" / "f"
    with pytest.raises(FileNotFoundError) as ei:
        atomicfile.write_bytes(missing, b"x")
    e = ei.value
    assert isinstance(e, atomicfile.Error) and isinstance(e, OSError)
    assert e.errno == errno.ENOENT and e.name == "ENOENT"
    assert e.filename and "nope" in e.filename
    assert e.step
    with pytest.raises(atomicfile.Error):
        atomicfile.read_bytes(tmp_path / "missing")
    p = tmp_path / "e"
    p.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        atomicfile.write_bytes(p, b"x", exclusive=True)
    assert p.read_bytes() == b"keep"
    with pytest.raises(IsADirectoryError):
        atomicfile.write_bytes(tmp_path, b"x")
    with pytest.raises(ValueError):
        atomicfile.write_bytes(p, b"x", sync="sometimes")


def test_hardlinks_error_is_library_code(tmp_path):
    p = tmp_path / "a"
    p.write_bytes(b"a")
    os.link(p, tmp_path / "b")
    with pytest.raises(atomicfile.HardLinksError) as ei:
        atomicfile.write_bytes(p, b"new")
    assert ei.value.errno == 5003 and ei.value.name == "AFILE_EHARDLINKS"
    assert p.read_bytes() == b"a"
    atomicfile.write_bytes(p, b"new", break_hardlinks=True)
    assert p.read_bytes() == b"new" and (tmp_path / "b").read_bytes() == b"a"


def test_remove_copy_rename_patch(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"0123456789")
    atomicfile.copy(a, b)
    assert b.read_bytes() == b"0123456789"
    atomicfile.patch(b, 2, b"xy")
    assert b.read_bytes() == b"01xy456789"
    atomicfile.rename(b, c)
    assert not b.exists() and c.read_bytes() == b"01xy456789"
    with pytest.raises(FileExistsError):
        atomicfile.rename(a, c, exclusive=True)
    atomicfile.rename(a, c, exchange=True)
    assert a.read_bytes() == b"01xy456789" and c.read_bytes() == b"0123456789"
    atomicfile.remove(c)
    assert not c.exists()
    with pytest.raises(FileNotFoundError):
        atomicfile.remove(c)
    assert temps(tmp_path) == []


def test_update_counts_under_threads(tmp_path):
    p = tmp_path / "n"

    def inc(old):
        return b"%d" % (int(old or b"0") + 1)

    def worker():
        for _ in range(25):
            atomicfile.update(p, inc, sync="none")

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert p.read_bytes() == b"100"


def test_update_keep_and_exception(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"old")
    atomicfile.update(p, lambda old: None)
    assert p.read_bytes() == b"old"

    def boom(old):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomicfile.update(p, boom)
    assert p.read_bytes() == b"old"
    with pytest.raises(TypeError):
        atomicfile.update(p, lambda old: 42)
    assert p.read_bytes() == b"old"
    assert temps(tmp_path) == []


def test_lock(tmp_path):
    p = tmp_path / "f"
    with atomicfile.lock(p):
        with pytest.raises(BlockingIOError):
            atomicfile.lock(p, timeout=0)
        with pytest.raises(TimeoutError):
            atomicfile.lock(p, timeout=0.05)
    with atomicfile.lock(p, shared=True), atomicfile.lock(p, shared=True):
        pass
    with atomicfile.lock(p, timeout=0):
        pass


def test_transaction_commit_and_rollback(tmp_path):
    (tmp_path / "old").write_bytes(b"old")
    with atomicfile.transaction(tmp_path) as txn:
        txn.write("a", b"A")
        txn.create("b", b"B")
        txn.rename("old", "renamed")
    assert (tmp_path / "a").read_bytes() == b"A"
    assert (tmp_path / "b").read_bytes() == b"B"
    assert (tmp_path / "renamed").read_bytes() == b"old"
    with pytest.raises(KeyError):
        with atomicfile.transaction(tmp_path) as txn:
            txn.write("a", b"changed")
            txn.remove("b")
            raise KeyError("abort")
    assert (tmp_path / "a").read_bytes() == b"A"
    assert (tmp_path / "b").read_bytes() == b"B"
    assert temps(tmp_path) == []
    with pytest.raises(FileExistsError):
        with atomicfile.transaction(tmp_path) as txn:
            txn.write("c", b"C")
            txn.create("a", b"again")
    assert not (tmp_path / "c").exists()
    assert atomicfile.recover(tmp_path)["action"] == "none"


def test_atomic_write_api(tmp_path):
    p = tmp_path / "f"
    with atomicfile.atomic_write(p) as f:
        f.write("text")
        assert not p.exists()
    assert p.read_text() == "text"
    with atomicfile.atomic_write(str(p), mode="wb") as f:
        f.write(b"bin")
    assert p.read_bytes() == b"bin"
    with pytest.raises(ZeroDivisionError):
        with atomicfile.atomic_write(p) as f:
            f.write("half")
            1 / 0
    assert p.read_bytes() == b"bin"
    with pytest.raises(FileExistsError):
        with atomicfile.atomic_write(p, overwrite=False) as f:
            f.write("x")
    with pytest.raises(ValueError):
        atomicfile.atomic_write(p, mode="a").__enter__()
    assert temps(tmp_path) == []


def test_write_many(tmp_path):
    atomicfile.write_many([(tmp_path / str(i), b"%d" % i) for i in range(20)])
    assert sorted(os.listdir(tmp_path)) == sorted(str(i) for i in range(20))
    assert (tmp_path / "7").read_bytes() == b"7"


def test_gil_released(tmp_path):
    # A thread blocked in lock() must not stop this thread from running.
    p = tmp_path / "f"
    got = []
    with atomicfile.lock(p):
        t = threading.Thread(target=lambda: got.append(atomicfile.lock(p)))
        t.start()
        t.join(0.2)
        assert t.is_alive()  # waiting in C, without the GIL
        counter = sum(range(10000))  # and we still run Python code
        assert counter
    t.join()
    got[0].release()


def test_every_library_code_has_its_class():
    for code, cls in [(-5000, atomicfile.PoisonedError),
                      (-5001, atomicfile.UnsyncedError),
                      (-5005, atomicfile.CorruptError),
                      (-5007, atomicfile.ProtectedError)]:
        e = atomicfile._make_error(code, code, "open", "x")
        assert type(e) is cls and isinstance(e, OSError)
        assert e.errno == -code and e.name.startswith("AFILE_E")
        assert e.filename == "x" and e.step == "open"
