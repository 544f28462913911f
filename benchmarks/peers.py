"""The contestants: each lossgraph backend, lg.value_and_grad (the reference evaluator),
hand-written NumPy, and, when installed, PyTorch eager autograd, jax.jit(jax.value_and_grad)
and numba-fused loops (pip install -e ".[bench]").

A peer is `prepare(workload, arrays) -> run`, where run() computes (loss, gradient w.r.t. the
predictions) and returns them as NumPy-convertible values, finished (JAX results are blocked
on). Arrays are converted to the peer's own tensors once, outside the timed call.
"""
from __future__ import annotations

import importlib.util

import numpy as np

import codegen
import lossgraph as lg


def _installed(name):
    return importlib.util.find_spec(name) is not None


# --- lossgraph

def backend_peer(name):
    def prepare(w, arrays):
        k = codegen.compile(w.graph(), wrt="pred", backend=name)
        p, t = arrays["pred"], arrays["target"]

        def run():
            value, (g,) = k(p, t)
            return value, g
        return run
    return prepare


def value_and_grad_peer(w, arrays):
    vg = lg.value_and_grad(w.loss)
    p, t = arrays["pred"], arrays["target"]
    return lambda: vg(p, t)


def hand_peer(w, arrays):
    p, t = arrays["pred"], arrays["target"]
    return lambda: w.hand(p, t)


# --- PyTorch eager autograd

def torch_peer(w, arrays):
    import torch
    import torch.nn.functional as F
    p0, t = torch.from_numpy(arrays["pred"]), torch.from_numpy(arrays["target"])
    fn = {"mse": F.mse_loss, "huber": lambda a, b: F.huber_loss(a, b, delta=1.0),
          "bce_logits": F.binary_cross_entropy_with_logits,
          "softmax_ce_10": F.cross_entropy, "softmax_ce_1000": F.cross_entropy,
          "soft_ce_10": F.cross_entropy}[w.name]       # float (N, C) targets: probabilities

    def run():
        p = p0.detach().requires_grad_()
        loss = fn(p, t)
        loss.backward()
        return loss.item(), p.grad.numpy()
    return run


# --- JAX

def _jax_loss(name):
    import jax
    import jax.numpy as jnp

    def mse(p, t):
        return jnp.mean(jnp.square(p - t))

    def huber(p, t):
        a = jnp.abs(p - t)
        return jnp.mean(jnp.where(a <= 1.0, 0.5 * a * a, a - 0.5))

    def bce(x, z):
        return jnp.mean(jax.nn.softplus(x) - x * z)

    def ce(x, y):
        return jnp.mean(jax.nn.logsumexp(x, axis=1) -
                        jnp.take_along_axis(x, y[:, None], axis=1)[:, 0])
    def soft_ce(x, t):
        return jnp.mean(-jnp.sum(t * jax.nn.log_softmax(x, axis=1), axis=1))
    return {"mse": mse, "huber": huber, "bce_logits": bce, "softmax_ce_10": ce,
            "softmax_ce_1000": ce, "soft_ce_10": soft_ce}[name]


def jax_peer(w, arrays):
    import jax
    jax.config.update("jax_enable_x64", True)
    f = jax.jit(jax.value_and_grad(_jax_loss(w.name)))
    p, t = jax.device_put(arrays["pred"]), jax.device_put(arrays["target"])
    f(p, t)[1].block_until_ready()              # compile outside the timing

    def run():
        v, g = f(p, t)
        g.block_until_ready()
        return float(v), np.asarray(g)
    return run


# --- numba: one fused loop per loss, gradient into a preallocated buffer

_NUMBA = {}


def _numba_kernels():
    if _NUMBA:
        return _NUMBA
    import math

    import numba

    @numba.njit(fastmath=False, cache=False)
    def mse(p, t, g):
        n = p.size
        s = 0.0
        for i in range(n):
            d = p[i] - t[i]
            s += d * d
            g[i] = d * (2.0 / n)
        return s / n

    @numba.njit(cache=False)
    def huber(p, t, g):
        n = p.size
        s = 0.0
        for i in range(n):
            d = p[i] - t[i]
            a = abs(d)
            if a <= 1.0:
                s += 0.5 * d * d
                g[i] = d / n
            else:
                s += a - 0.5
                g[i] = (1.0 if d > 0 else -1.0) / n
        return s / n

    @numba.njit(cache=False)
    def bce(x, z, g):
        n = x.size
        s = 0.0
        for i in range(n):
            e = math.exp(-abs(x[i]))
            s += max(x[i], 0.0) - x[i] * z[i] + math.log1p(e)
            sig = 1.0 / (1.0 + e) if x[i] >= 0 else e / (1.0 + e)
            g[i] = (sig - z[i]) / n
        return s / n

    @numba.njit(cache=False, inline="always")      # a call per row cost C = 10 20%
    def row_exp(x, r, g):
        """g[r] = e^(x[r] - m) with m the row's max; returns (m, sum of g[r])."""
        m = x[r, 0]
        for j in range(1, x.shape[1]):
            m = max(m, x[r, j])
        tot = 0.0
        for j in range(x.shape[1]):
            g[r, j] = math.exp(x[r, j] - m)
            tot += g[r, j]
        return m, tot

    @numba.njit(cache=False)
    def ce(x, y, g):
        n, c = x.shape
        s = 0.0
        for r in range(n):
            m, tot = row_exp(x, r, g)
            s += math.log(tot) + m - x[r, y[r]]
            for j in range(c):
                g[r, j] = g[r, j] / tot / n
            g[r, y[r]] -= 1.0 / n
        return s / n

    @numba.njit(cache=False)
    def soft_ce(x, t, g):
        n, c = x.shape
        s = 0.0
        for r in range(n):
            m, tot = row_exp(x, r, g)
            log_tot = math.log(tot)
            ts = 0.0
            for j in range(c):
                ts += t[r, j]
            for j in range(c):
                s -= t[r, j] * ((x[r, j] - m) - log_tot)
                g[r, j] = (g[r, j] / tot * ts - t[r, j]) / n
        return s / n

    _NUMBA.update(mse=mse, huber=huber, bce_logits=bce, softmax_ce_10=ce, softmax_ce_1000=ce,
                  soft_ce_10=soft_ce)
    return _NUMBA


def numba_peer(w, arrays):
    fn = _numba_kernels()[w.name]
    p, t = arrays["pred"], arrays["target"]
    g = np.empty_like(p)
    fn(p, t, g)                                  # compile outside the timing

    def run():
        return fn(p, t, g), g
    return run


def peers():
    """name -> prepare, for what is available here."""
    out = {f"lossgraph-{b}": backend_peer(b) for b in codegen.BACKENDS}
    out["lg.value_and_grad"] = value_and_grad_peer
    out["hand numpy"] = hand_peer
    if _installed("torch"):
        out["torch eager"] = torch_peer
    if _installed("jax"):
        out["jax.jit"] = jax_peer
    if _installed("numba"):
        out["numba"] = numba_peer
    return out
