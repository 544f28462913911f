"""codegen.llvm.objcache: machine code kept on disk between processes. A second process links
the object the first one made (same bits, no O3 run), a damaged entry is compiled again, an
untrusted directory or LOSSGRAPH_CACHE=0 keeps nothing, and the key changes with the IR and the
toolchain."""
import ctypes
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from llvmlite import ir

from codegen.llvm import jit, mathlib, objcache

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private, empty cache directory for the test."""
    where = tmp_path / "kernels"
    monkeypatch.setenv("LOSSGRAPH_CACHE_DIR", str(where))
    monkeypatch.delenv("LOSSGRAPH_CACHE", raising=False)
    return where


def _module(c):
    """f(x) = exp(x) + c, as IR text (c makes each test's module its own)."""
    module = jit.new_module()
    d = ir.DoubleType()
    fn = ir.Function(module, ir.FunctionType(d, [d]), name="f")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.fadd(mathlib.exp(b, fn.args[0]), ir.Constant(d, c)))
    return str(module)


def _compile_and_call(text):
    jm = jit.compile_module(text)
    return jm, jm.function("f", ctypes.c_double, ctypes.c_double)(0.5)


def _entries(where):
    return sorted(where.glob("*.o"))


def test_second_compile_links_the_stored_object(cache):
    text = _module(0.25)
    jm, first = _compile_and_call(text)
    assert not jm.from_cache and jm.timings["optimize"] > 0
    assert len(_entries(cache)) == 1
    del jm
    gc.collect()                 # the live JitModule would be handed out again otherwise
    jm, again = _compile_and_call(text)
    assert jm.from_cache and jm.timings["optimize"] == 0
    assert again == first == pytest.approx(np.exp(0.5) + 0.25, rel=1e-15)
    assert "define double @f(" in jm.optimized_ir       # still readable from the IR


def test_a_new_process_gets_the_same_kernel_from_the_cache(cache):
    script = """
import json, sys
import numpy as np
import codegen, lossgraph as lg
from zoo import losses
x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
k = codegen.compile(losses.sigmoid_cross_entropy(x, z, reduction="mean"), wrt=[x],
                    backend="llvm")
rng = np.random.default_rng(0)
v, (g,) = k(rng.normal(size=1000).astype("float32"), (rng.random(1000) > 0.5).astype("float32"))
prog = k._fn.program("float32")
print(json.dumps({"cached": prog.jit.from_cache, "v": float(v), "g": g.tobytes().hex()}))
"""
    env = dict(os.environ, LOSSGRAPH_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout)
            for _ in range(2)]
    assert [r["cached"] for r in runs] == [False, True]
    assert runs[0]["v"] == runs[1]["v"] and runs[0]["g"] == runs[1]["g"]


def test_a_damaged_entry_is_dropped_and_compiled_again(cache):
    text = _module(0.5)
    jm, first = _compile_and_call(text)
    del jm
    gc.collect()
    entry, = _entries(cache)
    data = bytearray(entry.read_bytes())
    data[-20] ^= 0xFF                                     # inside the object's bytes
    entry.write_bytes(bytes(data))
    jm, again = _compile_and_call(text)
    assert not jm.from_cache and again == first
    assert _entries(cache) == [entry] and entry.read_bytes() != bytes(data)   # rewritten


def test_a_torn_entry_is_a_miss(cache):
    text = _module(0.75)
    key = objcache.key(text, jit.toolchain())
    cache.mkdir(mode=0o700, exist_ok=True)
    (cache / (key + ".o")).write_bytes(b"lossgraph-object\n" + b"\0" * 10)
    assert objcache.load(key) is None and not (cache / (key + ".o")).exists()
    jm, value = _compile_and_call(text)
    assert not jm.from_cache and value == pytest.approx(np.exp(0.5) + 0.75, rel=1e-15)


def test_a_directory_others_may_write_to_is_not_used(tmp_path, monkeypatch):
    where = tmp_path / "shared"
    where.mkdir()
    where.chmod(0o777)
    monkeypatch.setenv("LOSSGRAPH_CACHE_DIR", str(where))
    with pytest.warns(RuntimeWarning, match="others may write to it"):
        assert objcache.directory() is None
    jm, _ = _compile_and_call(_module(1.0))
    assert not jm.from_cache and _entries(where) == []


def test_lossgraph_cache_0_turns_it_off(cache, monkeypatch):
    monkeypatch.setenv("LOSSGRAPH_CACHE", "0")
    assert objcache.directory() is None
    _compile_and_call(_module(1.25))
    assert not cache.exists() or _entries(cache) == []


def test_the_key_covers_the_ir_and_the_toolchain():
    text = _module(1.5)
    tc = jit.toolchain()
    assert objcache.key(text, tc) == objcache.key(text, tc)
    assert objcache.key(text, tc) != objcache.key(_module(1.75), tc)
    assert objcache.key(text, tc) != objcache.key(text, tc.replace("+avx", "-avx"))
    for part in ("python", "llvmlite", jit._STATE["cpu"], jit._STATE["features"],
                 "speed_level"):
        assert part in tc


def test_the_same_ir_again_in_an_engine_that_holds_it(cache, monkeypatch):
    """The code of a dropped JitModule stays in its engine; the same IR (same symbols) then
    goes into a fresh engine, from the cache or compiled, and runs."""
    text = _module(2.0)
    for use_cache in ("1", "0"):
        monkeypatch.setenv("LOSSGRAPH_CACHE", use_cache)
        jm, first = _compile_and_call(text)
        engine = jm._engine
        del jm
        gc.collect()
        jm, again = _compile_and_call(text)
        assert jm._engine is not engine and again == first


def test_prune_keeps_the_newest(tmp_path):
    for i in range(6):
        f = tmp_path / f"{i:064x}.o"
        f.write_bytes(b"x")
        os.utime(f, (1000 + i, 1000 + i))
    objcache.prune(tmp_path, keep=4)
    assert [f.name[-3:] for f in sorted(tmp_path.glob("*.o"))] == ["2.o", "3.o", "4.o", "5.o"]


def test_clear_empties_it(cache):
    _compile_and_call(_module(2.5))
    assert objcache.clear() == 1 and _entries(cache) == []


def test_an_entry_that_is_no_object_file_is_a_miss(cache):
    """Its hash is right but its bytes are no object file (LLVM would crash linking them)."""
    text = _module(3.0)
    key = objcache.key(text, jit.toolchain())
    objcache.store(key, b"not an object file at all")
    assert objcache.load(key) is None and _entries(cache) == []
    jm, value = _compile_and_call(text)
    assert not jm.from_cache and value == pytest.approx(np.exp(0.5) + 3.0, rel=1e-15)


def test_the_key_covers_the_speed_level():
    """The same IR at another speed level (jit.EXPLICIT_VECTORS_LEVEL) is other machine code:
    another key, and another live JitModule."""
    text = _module(2.5)
    assert jit.toolchain() == jit.toolchain(jit.TUNING["speed_level"])
    assert jit.toolchain(1) != jit.toolchain(3)
    assert jit.compile_module(text, 1) is not jit.compile_module(text, 3)
    assert jit.compile_module(text, 1) is jit.compile_module(text, 1)
