"""codegen.llvm.helper, the process's native helper thread of two-thread calls: it takes calls
offered back to back, parks when idle and is woken again, gives the bits of one thread, never
holds a call up (busy, stopped, or never scheduled: the caller takes its offer back), serves
several Python threads calling at once, and a forked child gets one of its own."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import codegen
import lossgraph as lg
from codegen.llvm import drive, helper

X = lg.input("x", shape=("N",))
Z = lg.input("z", shape=("N",))
N = 4 * drive.UNIT + 77                 # 5 units, from drive.SPLIT_FROM
LOSS = lg.mean(lg.softplus(X) - X * Z)


def bits(result):
    v, (g,) = result
    return v.tobytes() + g.tobytes()


@pytest.fixture(scope="module")
def setup():
    assert N >= drive.SPLIT_FROM
    rng = np.random.default_rng(5)
    f = {"x": (3 * rng.normal(size=N)).astype(np.float32), "z": rng.random(N).astype(np.float32)}
    k1, k2 = (codegen.compile(LOSS, wrt=[X], backend="llvm", threads=t) for t in (1, 2))
    return f, k2, bits(k1(**f))


def _until(cond, seconds=20.0):
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.001)
    return True


def test_calls_back_to_back_are_helped_and_an_idle_helper_parks(setup):
    f, k2, want = setup
    assert bits(k2(**f)) == want
    h = helper.helper(drive.driver()[0], drive.CALLER)
    assert h.thread.is_alive()
    for round_ in range(2):                     # the second round wakes a parked helper
        before = int(h.state[helper.HELPED_CALLS])
        got = []
        assert _until(lambda: got.append(bits(k2(**f))) or
                      h.state[helper.HELPED_CALLS] > before), "the helper never took a call"
        assert set(got) == {want}
        assert _until(lambda: h.state[helper.SPINNING] == 0), "an idle helper kept spinning"
        assert h.state[helper.CELL] == helper.EMPTY


def test_calls_from_several_threads_at_once_get_their_own_bits(setup):
    f, k2, want = setup
    rng = np.random.default_rng(6)
    other = {"x": rng.normal(size=N).astype(np.float32), "z": f["z"]}
    other_want = bits(codegen.compile(LOSS, wrt=[X], backend="llvm", threads=1)(**other))
    out, errors = {}, []

    def calls(j):
        try:
            feed, expect = (f, want) if j % 2 else (other, other_want)
            out[j] = all(bits(k2(**feed)) == expect for _ in range(15))
        except BaseException as exc:          # reported below, never lost in a thread
            errors.append(exc)
    threads = [threading.Thread(target=calls, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and out == {j: True for j in range(4)}


def test_a_stopped_helper_never_holds_a_call_up(setup, monkeypatch):
    """A Helper of its own: it helps, stops (its thread leaves native code and ends), and
    calls offered to it after that run alone: nobody takes the offer, the caller takes it
    back."""
    f, k2, want = setup
    own = helper.Helper(drive.driver()[0], drive.CALLER)
    monkeypatch.setattr(helper, "helper", lambda jm, role: own)
    got = []
    assert _until(lambda: got.append(bits(k2(**f))) or own.state[helper.HELPED_CALLS] > 0)
    own.stop()
    assert not own.thread.is_alive()
    helped = int(own.state[helper.HELPED_CALLS])
    got += [bits(k2(**f)) for _ in range(3)]
    assert set(got) == {want}
    assert own.state[helper.HELPED_CALLS] == helped and own.state[helper.CELL] == helper.EMPTY


_FORKED = """
import os, numpy as np, codegen, lossgraph as lg
from codegen.llvm import drive, helper
x, z = lg.input("x", shape=("N",)), lg.input("z", shape=("N",))
loss = lg.mean(lg.softplus(x) - x * z)
k1, k2 = (codegen.compile(loss, wrt=[x], backend="llvm", threads=t) for t in (1, 2))
rng = np.random.default_rng(5)
f = {"x": rng.normal(size=%d).astype(np.float32), "z": rng.random(%d).astype(np.float32)}
bits = lambda r: r[0].tobytes() + r[1][0].tobytes()
want = bits(k1(**f))
assert bits(k2(**f)) == want
parent = helper.helper(drive.driver()[0], drive.CALLER)
pid = os.fork()
if pid == 0:
    code = 1
    try:
        ok = all(bits(k2(**f)) == want for _ in range(20))
        mine = helper.helper(drive.driver()[0], drive.CALLER)
        code = 0 if ok and mine is not parent and mine.thread.is_alive() else 3
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_gets_a_helper_of_its_own():
    """In a process of its own (this one may run other libraries' threads, which fork does
    not carry): the parent's helper exists, the child computes on two threads with one of
    its own."""
    run = subprocess.run([sys.executable, "-c", _FORKED % (N, N)], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["child", "0"], run.stdout + run.stderr
