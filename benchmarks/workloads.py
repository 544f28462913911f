"""The benchmark's workloads: loss + gradient w.r.t. the predictions, as a lossgraph graph and
as a skilled person writes it by hand in NumPy.

Each Workload builds inputs of `n` elements (softmax CE: n // C rows of C classes, with
integer labels or, soft, label-smoothed (rows, C) targets: 0.9 one-hot + 0.1 / C), the graph
(zoo.losses, mean reduction) and `hand(arrays) -> (loss, grad)`. `bytes_moved` is what must
cross memory at least once: every input read, the gradient written.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import lossgraph as lg
from zoo import losses as L


@dataclass(frozen=True)
class Workload:
    name: str
    classes: int            # 0: elementwise (pred, target); C: softmax CE over C classes
    loss: Callable          # (pred node, target node) -> scalar Node
    hand: Callable          # (pred array, target array) -> (loss, grad)
    soft: bool = False      # softmax CE: (rows, C) soft targets (label-smoothed), not labels

    def inputs(self, n, dtype, seed=0):
        rng = np.random.default_rng(seed)
        if self.classes:
            rows = max(n // self.classes, 1)
            pred = rng.normal(size=(rows, self.classes)).astype(dtype)
            labels = rng.integers(0, self.classes, size=rows)       # drawn after pred, as before
            target = labels if not self.soft else \
                (0.9 * np.eye(self.classes)[labels] + 0.1 / self.classes).astype(dtype)
            return {"pred": pred, "target": target}
        target = rng.normal(size=n) if self.name != "bce_logits" else \
            (rng.random(n) > 0.5).astype(np.float64)
        return {"pred": (2 * rng.normal(size=n)).astype(dtype), "target": target.astype(dtype)}

    def nodes(self):
        if self.classes:
            target = lg.input("target", shape=("N", self.classes)) if self.soft else \
                lg.input("target", shape=("N",), dtype="int64")
            return lg.input("pred", shape=("N", self.classes)), target
        return lg.input("pred", shape=("N",)), lg.input("target", shape=("N",))

    def graph(self):
        p, t = self.nodes()
        return lg.Loss([p, t], self.loss(p, t), self.name)

    def bytes_moved(self, arrays):
        p, t = arrays["pred"], arrays["target"]
        return 2 * p.nbytes + t.nbytes


# --- hand-written NumPy: what a careful person writes (stable, few passes, in place)

def mse_hand(p, t):
    d = p - t
    n = d.size
    loss = np.dot(d, d) / n
    d *= 2 / n
    return loss, d


def huber_hand(p, t, delta=1.0):
    d = p - t
    a = np.abs(d)
    quad = np.minimum(a, delta)
    loss = np.sum(quad * (a - 0.5 * quad)) / d.size
    g = np.clip(d, -delta, delta, out=d)
    g /= d.size
    return loss, g


def bce_logits_hand(x, z):
    e = np.exp(-np.abs(x))
    n = x.size
    loss = (np.sum(np.maximum(x, 0)) - np.dot(x, z) + np.sum(np.log1p(e))) / n
    g = np.tanh(0.5 * x)        # sigmoid(x) = (1 + tanh(x / 2)) / 2, branch-free
    g += 1
    g *= 0.5
    g -= z
    g /= n
    return loss, g


def softmax_ce_hand(x, y):
    n = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    e = np.exp(x - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.sum(np.log(s[:, 0]) + m[:, 0] - x[rows, y]) / n
    e /= s
    e[rows, y] -= 1
    e /= n
    return loss, e


def soft_ce_hand(x, t):
    """Soft-target softmax CE: mean over rows of -sum_c t log softmax(x), gradient
    (softmax(x) sum_c t - t) / n."""
    n = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    shifted = x - m
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    shifted -= np.log(s)                      # log_softmax, in place
    ts = t.sum(axis=1, keepdims=True)
    loss = -np.vdot(t, shifted) / n
    e *= ts / s
    e -= t
    e /= n
    return loss, e


WORKLOADS = {
    "mse": Workload("mse", 0, lambda p, t: L.squared_error(p, t, reduction="mean"),
                    mse_hand),
    "huber": Workload("huber", 0, lambda p, t: L.huber(p, t, reduction="mean"), huber_hand),
    "bce_logits": Workload("bce_logits", 0,
                           lambda p, t: L.sigmoid_cross_entropy(p, t, reduction="mean"),
                           bce_logits_hand),
    "softmax_ce_10": Workload("softmax_ce_10", 10,
                              lambda p, t: L.sparse_softmax_cross_entropy(p, t,
                                                                          reduction="mean"),
                              softmax_ce_hand),
    "softmax_ce_1000": Workload("softmax_ce_1000", 1000,
                                lambda p, t: L.sparse_softmax_cross_entropy(p, t,
                                                                            reduction="mean"),
                                softmax_ce_hand),
    "soft_ce_10": Workload("soft_ce_10", 10,
                           lambda p, t: L.softmax_cross_entropy(p, t, reduction="mean"),
                           soft_ce_hand, soft=True),
}
