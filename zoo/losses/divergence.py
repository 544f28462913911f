"""Divergences and similarities between distributions or vectors, reduced over `axis`
(`axis=None`: element-wise terms, nothing summed)."""
from __future__ import annotations

import lossgraph as lg

from ..options import BELOW_ONE, NONNEGATIVE, options
from .define import as_float, loss

__all__ = ["kl_divergence", "js_divergence", "cosine_similarity", "cosine_distance"]


def norm(x, axis):
    """||x||_2 over axis; at x = 0 it is 0 with gradient 0 (a subgradient), never NaN."""
    s = lg.sum(lg.square(x), axis=axis)
    nonzero = s > 0.0
    return lg.where(nonzero, lg.sqrt(lg.where(nonzero, s, 1.0)), 0.0)


def _sum(terms, axis):
    return terms if axis is None else lg.sum(terms, axis=axis)


@options(eps=BELOW_ONE)
@loss("target", "pred")
def kl_divergence(target, pred, axis=-1, log_input=False, eps=1e-7, log_target=False):
    """l = sum_axis z log(z / p), z and p clipped to [eps, 1]; log_input: z (log(z + eps) - pred).

    eps = 0: no clip, and z = 0 terms are 0 (0 log 0 = 0). log_input=True takes pred = log q;
    its z = 0 terms are 0 even where log q = -inf. axis=None keeps the element-wise terms.

    log_target=True (with log_input) takes target = log z too: e^t (t - pred), no eps.

    Source convention: Axon kl_divergence (probabilities, both clipped, eps 1e-7, sum over
    the last axis); MXNet KLDivLoss (log-probabilities, eps 1e-12 inside log z, element-wise
    before its per-sample mean); torch kl_div = log_input=True, eps=0, axis=None (its
    default "mean" averages every element; "batchmean" is the KL per sample).

    Examples:
        >>> losses.kl_divergence(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]))
        array([0.])
        >>> losses.kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]))
        array([0.69314564])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
    """
    z, p = as_float(target), as_float(pred)
    if log_target:
        if not log_input:
            raise lg.OptionError("kl_divergence: log_target=True needs log_input=True")
        return _sum(lg.exp(z) * (z - p), axis)
    if log_input:
        return _sum(lg.xlogy(z, z + eps) - lg.where(lg.equal(z, 0.0), 0.0, z * p), axis)
    if eps > 0:
        z, p = lg.clip(z, eps, 1.0), lg.clip(p, eps, 1.0)
    return _sum(lg.xlogy(z, z) - lg.xlogy(z, p), axis)


@loss("p", "q")
def js_divergence(p, q, axis=-1):
    """l = sum_axis [ (p log p + q log q) / 2 - m log m ],  m = (p + q) / 2.

    Source convention: Jensen-Shannon divergence KL(p || m) / 2 + KL(q || m) / 2 in nats
    (0 log 0 = 0, so disjoint supports give log 2, not NaN).

    Examples:
        >>> losses.js_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
        array([0.69314718])

    """
    p, q = as_float(p), as_float(q)
    m = 0.5 * (p + q)
    return _sum(0.5 * (lg.xlogy(p, p) + lg.xlogy(q, q)) - lg.xlogy(m, m), axis)


@options(eps=NONNEGATIVE)
@loss("a", "b")
def cosine_similarity(a, b, axis=-1, eps=1e-8):
    """l = sum_axis a b / max(||a||_axis ||b||_axis, eps).

    A similarity (+1 for parallel vectors). The norms have gradient 0 at a zero vector.

    Source convention: Axon cosine_similarity (eps 1e-6, axes [1]); TensorLayer
    cosine_similarity is eps = 0, the plain quotient (NaN for a zero vector, as there).

    Examples:
        >>> losses.cosine_similarity(np.array([[1.0, 0.0], [1.0, 1.0]]),
        ...     np.array([[2.0, 0.0], [-1.0, -1.0]]))
        array([ 1., -1.])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
    """
    a, b = as_float(a), as_float(b)
    return lg.sum(a * b, axis=axis) / lg.maximum(norm(a, axis) * norm(b, axis), eps)


@options(eps=NONNEGATIVE)
@loss("a", "b")
def cosine_distance(a, b, axis=-1, normalize=False, eps=1e-8):
    """l = 1 - sum_axis a b;  normalize=True: l = 1 - cosine_similarity(a, b, axis, eps).

    Source convention: TF contrib cosine_distance (inputs assumed unit-normalized: no
    normalization, no epsilon; the reduced axis is dropped).

    Examples:
        >>> losses.cosine_distance(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]),
        ...     normalize=True)
        array([1.])

    Raises:
        OptionError: eps outside its domain (the message gives the domain and the value).
    """
    if normalize:
        return 1.0 - cosine_similarity(a, b, axis=axis, eps=eps)
    return 1.0 - lg.sum(as_float(a) * as_float(b), axis=axis)
