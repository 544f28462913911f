"""Machine code kept on disk between processes, keyed by everything that makes it.

    key = objcache.key(ir_text, jit.toolchain())   # sha256 of the IR, toolchain, host CPU
    obj = objcache.load(key)             # the object file's bytes, or None
    objcache.store(key, obj)

A kernel compiled once on this machine loads its object file next time instead of running the
O3 pipeline and making machine code again (jit.JitModule): what a first compile costs in a new
process then is building the IR (the key) and loading about 10 KB.

The key hashes the IR text with Python's, llvmlite's and LLVM's versions, the host triple, CPU
name and CPU features, the pass pipeline's options and FORMAT: a different compiler, machine or
pipeline can never hit an entry another one wrote. Each file holds the sha256 of its bytes,
checked on load with the object format's magic number (a torn or altered file is deleted and
compiled again: LLVM would crash on bytes that are no object file); files are written to
a temporary name and renamed into place, so processes sharing the directory see whole files.

Where: $LOSSGRAPH_CACHE_DIR, else $XDG_CACHE_HOME/lossgraph/kernels, else
~/.cache/lossgraph/kernels, made private (0700). LOSSGRAPH_CACHE=0 turns it off; so does a
directory that is not the user's own or that others may write to (machine code from it is
run, so it must be trusted). Entries beyond MAX_FILES go oldest first. `usage()` tells where
it is and how much it holds, `clear()` empties it (`lossgraph cache [--clear]` on the command
line).
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import warnings
from pathlib import Path

#: bumped whenever what an entry holds, or how it is named, changes
FORMAT = 1
#: entries kept; a process that writes one looks once whether the directory has more
MAX_FILES = 4096
_MAGIC = b"lossgraph-object\n"
#: the first bytes of the object files MCJIT makes (ELF, 64-bit Mach-O, x86-64 and arm64
#: COFF): llvmlite links anything it is handed, and bytes that are no object crash LLVM
OBJECT_MAGICS = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\x64\x86", b"\x64\xaa")
_SUFFIX = ".o"
_STATE = {}


def directory():
    """The cache directory (a Path), or None when the cache is off."""
    if os.environ.get("LOSSGRAPH_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    where = os.environ.get("LOSSGRAPH_CACHE_DIR")
    if not where:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache")
        where = os.path.join(base, "lossgraph", "kernels")
    path = Path(where)
    if _STATE.get("checked") == path:
        return path
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError as exc:
        return _refuse(path, f"it cannot be made ({exc.strerror})")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return _refuse(path, "it belongs to another user")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return _refuse(path, "others may write to it")
    _STATE["checked"] = path
    return path


def _refuse(path, why):
    if _STATE.get("refused") != path:
        _STATE["refused"] = path
        warnings.warn(f"lossgraph: not caching compiled kernels in {path}: {why} (set "
                      f"LOSSGRAPH_CACHE_DIR to a private directory, or LOSSGRAPH_CACHE=0)",
                      RuntimeWarning, stacklevel=4)
    return None


def key(ir_text, toolchain):
    """Hex sha256 of the IR text and toolchain (a string naming the compiler, the host and
    the pipeline options: jit.toolchain())."""
    h = hashlib.sha256(f"lossgraph objcache {FORMAT}\n{toolchain}\n".encode())
    h.update(ir_text.encode())
    return h.hexdigest()


def load(key):
    """The object bytes stored under key, or None (no cache, no entry, or a damaged one)."""
    path = directory()
    if path is None:
        return None
    file = path / (key + _SUFFIX)
    try:
        data = file.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC) + 32
    if (data[:len(_MAGIC)] == _MAGIC and data[head:].startswith(OBJECT_MAGICS)
            and hashlib.sha256(data[head:]).digest() == data[len(_MAGIC):head]):
        return data[head:]
    try:
        file.unlink()
    except OSError:
        pass
    return None


def store(key, obj):
    """Writes the object bytes under key (silently nothing when the cache is off or the disk
    refuses)."""
    path = directory()
    if path is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".tmp-", suffix=_SUFFIX)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_MAGIC + hashlib.sha256(obj).digest() + obj)
        os.replace(tmp, path / (key + _SUFFIX))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    if not _STATE.get("pruned"):
        _STATE["pruned"] = True
        prune(path)


def prune(path, keep=MAX_FILES):
    """Deletes the oldest entries beyond `keep` (one directory listing when there are not
    more)."""
    try:
        if len(os.listdir(path)) <= keep:
            return
        files = [(f.stat().st_mtime, f) for f in path.glob("*" + _SUFFIX)]
    except OSError:
        return
    files.sort()
    for _, f in files[:max(len(files) - keep, 0)]:
        try:
            f.unlink()
        except OSError:
            pass


def usage():
    """(directory or None when the cache is off, entries, bytes)."""
    path = directory()
    if path is None:
        return None, 0, 0
    sizes = []
    for f in path.glob("*" + _SUFFIX):
        try:
            sizes.append(f.stat().st_size)
        except OSError:
            pass
    return path, len(sizes), sum(sizes)


def clear():
    """Deletes every entry; returns how many there were."""
    path = directory()
    if path is None:
        return 0
    n = 0
    for f in path.glob("*" + _SUFFIX):
        try:
            f.unlink()
            n += 1
        except OSError:
            pass
    return n
