"""zoo.torch against NumPy transcriptions of torch.nn.functional's documented formulas (written
here, brute-force alignment sums for CTC), finite differences (float64), float32 in/out,
torch's error conditions, and, when PyTorch is installed, torch itself: values and autograd
gradients on random inputs for every case and reduction."""
import itertools
import warnings

import numpy as np
import pytest

import lossgraph as lg
import zoo.torch as F
from zoo import losses as L
from .zoo_refs import check_case_gradients, node_inputs

N, C, D = 3, 4, 5


# ---------------------------------------------------------------- generators (rng -> array)
def real(*shape):
    return lambda r: r.normal(size=shape)


def pos(*shape):
    return lambda r: r.uniform(0.3, 2.0, size=shape)


def probs(*shape):
    return lambda r: r.uniform(0.02, 0.98, size=shape)


def bits(*shape):
    return lambda r: (r.random(shape) > 0.5).astype(float)


def signs(*shape):
    return lambda r: np.where(r.random(shape) > 0.5, 1.0, -1.0)


def labels(*shape, ignore=None):
    def gen(r):
        y = r.integers(0, C, size=shape)
        if ignore is not None and y.size:
            y.flat[::3] = ignore                # every third target ignored
        return y
    return gen


def log_probs(*shape, axis=-1):
    return lambda r: log_softmax(r.normal(size=shape), axis)


def dist(*shape, axis=-1):
    return lambda r: np.exp(log_softmax(r.normal(size=shape), axis))


def const(value):
    return lambda r: np.array(value)


def multilabels(*shape):
    def gen(r):
        out = r.integers(0, C, size=shape).reshape(-1, C)
        for row in out:
            k = r.integers(1, C + 1)
            row[:k] = r.permutation(C)[:k]
            if k < C:
                row[k] = -1
        return out.reshape(shape)
    return gen


# ---------------------------------------------------------------- NumPy transcriptions
def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def logsig(x):
    return -np.logaddexp(0.0, -x)


def red(l, reduction, denom=None):
    l = np.asarray(l, dtype=np.float64)
    if reduction == "none":
        return l
    if reduction == "sum":
        return l.sum()
    if reduction == "batchmean":
        return l.sum() / (l.shape[0] if l.ndim else 1)
    return l.sum() / (l.size if denom is None else denom)


def np_l1(reduction, input, target, weight=None):
    l = np.abs(input - target)
    return red(l if weight is None else weight * l, reduction,
               None if weight is None else weight.sum())


def np_mse(reduction, input, target, weight=None):
    l = (input - target) ** 2
    return red(l if weight is None else weight * l, reduction,
               None if weight is None else weight.sum())


def np_smooth_l1(reduction, input, target, beta=1.0):
    a = np.abs(input - target)
    l = a if beta == 0 else np.where(a < beta, 0.5 * a ** 2 / max(beta, 1e-300), a - 0.5 * beta)
    return red(l, reduction)


def np_huber(reduction, input, target, delta=1.0, weight=None):
    a = np.abs(input - target)
    l = np.where(a <= delta, 0.5 * a ** 2, delta * (a - 0.5 * delta))
    return red(l if weight is None else weight * l, reduction)


def np_bce(reduction, input, target, weight=None):
    l = -(target * np.maximum(np.log(input), -100)
          + (1 - target) * np.maximum(np.log(1 - input), -100))
    return red(l if weight is None else weight * l, reduction)


def np_bce_logits(reduction, input, target, weight=None, pos_weight=None):
    q = 1.0 if pos_weight is None else pos_weight
    l = -(q * target * logsig(input) + (1 - target) * logsig(-input))
    return red(l if weight is None else weight * l, reduction)


def _class_last(x, axis):
    return np.moveaxis(x, axis, -1)


def np_nll(reduction, input, target, weight=None, ignore_index=-100, label_smoothing=0.0,
           logits=False):
    axis = 1 if input.ndim >= 2 else 0
    lp = _class_last(log_softmax(input, axis) if logits else input, axis)
    w = np.ones(lp.shape[-1]) if weight is None else weight
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    picked = np.take_along_axis(lp, safe[..., None], -1)[..., 0]
    l = -(1 - label_smoothing) * w[safe] * picked - label_smoothing / lp.shape[-1] * (
        w * lp).sum(-1)
    l = np.where(keep, l, 0.0)
    return red(l, reduction, (w[safe] * keep).sum())


def np_cross_entropy(reduction, input, target, weight=None, ignore_index=-100,
                     label_smoothing=0.0):
    if target.dtype.kind == "f":                          # probability targets
        axis = 1 if input.ndim >= 2 else 0
        lp, z = _class_last(log_softmax(input, axis), axis), _class_last(target, axis)
        z = z * (1 - label_smoothing) + label_smoothing / lp.shape[-1]
        w = np.ones(lp.shape[-1]) if weight is None else weight
        return red(-(w * z * lp).sum(-1), reduction)
    return np_nll(reduction, input, target, weight, ignore_index, label_smoothing, logits=True)


def np_kl(reduction, input, target, log_target=False):
    if log_target:
        l = np.exp(target) * (target - input)
    else:
        l = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1)) - input), 0.0)
    return red(l, reduction)


def np_poisson(reduction, input, target, log_input=True, full=False, eps=1e-8):
    l = np.exp(input) - target * input if log_input else input - target * np.log(input + eps)
    if full:
        t = np.maximum(target, 1)
        l = l + np.where(target > 1, t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t), 0.0)
    return red(l, reduction)


def np_gaussian(reduction, input, target, var, full=False, eps=1e-6):
    v = np.asarray(var, dtype=np.float64)
    if v.ndim and v.shape == input.shape[:-1]:
        v = v[..., None]
    v = np.maximum(v, eps)
    l = 0.5 * (np.log(v) + (input - target) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0)
    return red(np.broadcast_to(l, input.shape), reduction)


def np_hinge_embedding(reduction, input, target, margin=1.0):
    return red(np.where(target == 1, input, np.maximum(0, margin - input)), reduction)


def np_margin_ranking(reduction, input1, input2, target, margin=0.0):
    return red(np.maximum(0, -target * (input1 - input2) + margin), reduction)


def np_soft_margin(reduction, input, target):
    return red(np.log1p(np.exp(-target * input)), reduction)


def np_multilabel_soft_margin(reduction, input, target, weight=None):
    l = -(target * logsig(input) + (1 - target) * logsig(-input))
    return red((l if weight is None else weight * l).mean(-1), reduction)


def np_multilabel_margin(reduction, input, target):
    x, t = np.atleast_2d(input), np.atleast_2d(target)
    out = np.zeros(len(x))
    for b, row in enumerate(t):
        row = list(row)
        targets = row[:row.index(-1)] if -1 in row else row
        for j in targets:
            for i in set(range(x.shape[1])) - set(targets):
                out[b] += max(0.0, 1.0 - (x[b, j] - x[b, i]))
    out /= x.shape[1]
    return red(out if input.ndim == 2 else out[0], reduction)


def np_multi_margin(reduction, input, target, p=1, margin=1.0, weight=None):
    x, y = np.atleast_2d(input), np.atleast_1d(target)
    out = np.zeros(len(x))
    for b, yb in enumerate(y):
        for c in range(x.shape[1]):
            if c != yb:
                out[b] += max(0.0, margin - x[b, yb] + x[b, c]) ** p
        out[b] *= 1.0 if weight is None else weight[yb]
    out /= x.shape[1]
    return red(out if input.ndim == 2 else out[0], reduction)


def np_cosine_embedding(reduction, input1, input2, target, margin=0.0):
    cos = (input1 * input2).sum(-1) / np.sqrt((input1 ** 2).sum(-1) * (input2 ** 2).sum(-1))
    return red(np.where(target == 1, 1 - cos, np.maximum(0, cos - margin)), reduction)


def np_pdist(a, b, p=2.0, eps=1e-6):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1.0 / p)


def np_triplet(reduction, anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
               dist=None):
    d = dist or (lambda u, v: np_pdist(u, v, p, eps))
    d_neg = d(anchor, negative)
    if swap:
        d_neg = np.minimum(d_neg, d(positive, negative))
    return red(np.maximum(0, d(anchor, positive) - d_neg + margin), reduction)


def np_cos_distance(u, v):
    return 1 - (u * v).sum(-1) / np.sqrt((u ** 2).sum(-1) * (v ** 2).sum(-1))


def collapse(path, blank):
    out = [k for k, _ in itertools.groupby(path)]
    return [k for k in out if k != blank]


def np_ctc(reduction, log_probs, targets, input_lengths, target_lengths, blank=0,
           zero_infinity=False):
    """Brute force: -log of the summed probability of every path that collapses to the target."""
    lp = log_probs if log_probs.ndim == 3 else log_probs[:, None]
    tl = np.atleast_1d(target_lengths)
    il = np.atleast_1d(input_lengths)
    if targets.ndim == 1 and log_probs.ndim == 3:           # concatenated
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]])
        rows = [targets[s:s + n] for s, n in zip(starts, tl)]
    else:
        rows = [r[:n] for r, n in zip(np.atleast_2d(targets), tl)]
    out = np.zeros(lp.shape[1])
    for n, row in enumerate(rows):
        total = -np.inf
        for path in itertools.product(range(lp.shape[2]), repeat=int(il[n])):
            if collapse(path, blank) == list(row):
                total = np.logaddexp(total, sum(lp[t, n, k] for t, k in enumerate(path)))
        out[n] = 0.0 if zero_infinity and total == -np.inf else -total
    if reduction == "mean":
        return np.mean(out / np.maximum(tl, 1))
    return red(out if log_probs.ndim == 3 else out[0], reduction)


# ---------------------------------------------------------------- the case table
# id, function name, tensor generators (by torch's keyword), options, NumPy reference,
# differentiable tensors, reductions
M3 = ("none", "sum", "mean")
CTC_LP = log_probs(4, 2, 3)
CASES = [
    ("l1", "l1_loss", {"input": real(N, C), "target": real(N, C)}, {}, np_l1,
     ["input", "target"]),
    ("l1_weight", "l1_loss", {"input": real(N, C), "target": real(N, C), "weight": pos(N, C)},
     {}, np_l1, ["input", "weight"]),
    ("mse", "mse_loss", {"input": real(N, C), "target": real(N, C)}, {}, np_mse,
     ["input", "target"]),
    ("mse_weight_3d", "mse_loss", {"input": real(2, 3, 2), "target": real(2, 3, 2),
                                   "weight": pos(2, 3, 2)}, {}, np_mse, ["input", "weight"]),
    ("smooth_l1", "smooth_l1_loss", {"input": real(N, C), "target": real(N, C)},
     {"beta": 0.5}, np_smooth_l1, ["input", "target"]),
    ("smooth_l1_beta0", "smooth_l1_loss", {"input": real(N, C), "target": real(N, C)},
     {"beta": 0.0}, np_smooth_l1, ["input"]),
    ("huber", "huber_loss", {"input": real(N, C), "target": real(N, C)}, {"delta": 0.7},
     np_huber, ["input", "target"]),
    ("huber_weight", "huber_loss", {"input": real(N, C), "target": real(N, C),
                                    "weight": pos(N, C)}, {"delta": 1.3}, np_huber,
     ["input", "weight"]),
    ("bce", "binary_cross_entropy", {"input": probs(N, C), "target": bits(N, C)}, {}, np_bce,
     ["input"]),
    ("bce_weight_per_class", "binary_cross_entropy",
     {"input": probs(N, C), "target": probs(N, C), "weight": pos(C)}, {}, np_bce,
     ["input", "target"]),
    ("bce_logits", "binary_cross_entropy_with_logits", {"input": real(N, C),
                                                        "target": bits(N, C)}, {},
     np_bce_logits, ["input"]),
    ("bce_logits_weight_pos_weight", "binary_cross_entropy_with_logits",
     {"input": real(N, C), "target": probs(N, C), "weight": pos(N, C), "pos_weight": pos(C)},
     {}, np_bce_logits, ["input", "target", "pos_weight"]),
    ("bce_logits_unbatched", "binary_cross_entropy_with_logits",
     {"input": real(C), "target": bits(C), "pos_weight": pos(C)}, {}, np_bce_logits,
     ["input"]),
    ("ce_index", "cross_entropy", {"input": real(N, C), "target": labels(N)}, {},
     np_cross_entropy, ["input"]),
    ("ce_kdim_weight_ignore_smooth", "cross_entropy",
     {"input": real(2, C, 3), "target": labels(2, 3, ignore=-100), "weight": pos(C)},
     {"label_smoothing": 0.1}, np_cross_entropy, ["input", "weight"]),
    ("ce_ignore_index_2", "cross_entropy",
     {"input": real(N + 2, C), "target": labels(N + 2, ignore=2)}, {"ignore_index": 2},
     np_cross_entropy, ["input"]),
    ("ce_unbatched", "cross_entropy", {"input": real(C), "target": const(2)}, {},
     np_cross_entropy, ["input"]),
    ("ce_probs_kdim_weight_smooth", "cross_entropy",
     {"input": real(2, C, 3), "target": dist(2, C, 3, axis=1), "weight": pos(C)},
     {"label_smoothing": 0.2}, np_cross_entropy, ["input", "target"]),
    ("nll", "nll_loss", {"input": log_probs(N, C), "target": labels(N)}, {}, np_nll,
     ["input"]),
    ("nll_kdim_weight_ignore", "nll_loss",
     {"input": log_probs(2, C, 2, axis=1), "target": labels(2, 2, ignore=1),
      "weight": pos(C)}, {"ignore_index": 1}, np_nll, ["input", "weight"]),
    ("nll_unbatched", "nll_loss", {"input": log_probs(C), "target": const(1)}, {}, np_nll,
     ["input"]),
    ("kl_div", "kl_div", {"input": log_probs(N, C), "target": dist(N, C)}, {}, np_kl,
     ["input", "target"], (*M3, "batchmean")),
    ("kl_div_log_target", "kl_div", {"input": log_probs(N, C), "target": log_probs(N, C)},
     {"log_target": True}, np_kl, ["input", "target"], (*M3, "batchmean")),
    ("poisson_log_input", "poisson_nll_loss", {"input": real(N, C), "target": pos(N, C)}, {},
     np_poisson, ["input", "target"]),
    ("poisson_rate_full", "poisson_nll_loss",
     {"input": pos(N, C), "target": lambda r: r.poisson(2.0, (N, C)).astype(float)},
     {"log_input": False, "full": True, "eps": 1e-6}, np_poisson, ["input"]),
    ("gaussian_full", "gaussian_nll_loss",
     {"input": real(N, C), "target": real(N, C), "var": pos(N, C)}, {"full": True},
     np_gaussian, ["input", "target", "var"]),
    ("gaussian_var_one_short", "gaussian_nll_loss",
     {"input": real(N, C), "target": real(N, C), "var": pos(N)}, {}, np_gaussian,
     ["input", "var"]),
    ("gaussian_var_trailing_1", "gaussian_nll_loss",
     {"input": real(N, C), "target": real(N, C), "var": pos(N, 1)}, {}, np_gaussian,
     ["input", "var"]),
    ("gaussian_var_leading_1", "gaussian_nll_loss",
     {"input": real(N, C), "target": real(N, C), "var": pos(1, C)}, {"eps": 1e-3},
     np_gaussian, ["input", "var"]),
    ("gaussian_var_float", "gaussian_nll_loss", {"input": real(N, C), "target": real(N, C)},
     {"var": 0.7}, np_gaussian, ["input"]),
    ("hinge_embedding", "hinge_embedding_loss", {"input": real(N, C), "target": signs(N, C)},
     {"margin": 0.5}, np_hinge_embedding, ["input"]),
    ("margin_ranking", "margin_ranking_loss",
     {"input1": real(D), "input2": real(D), "target": signs(D)}, {"margin": 0.3},
     np_margin_ranking, ["input1", "input2"]),
    ("soft_margin", "soft_margin_loss", {"input": real(N, C), "target": signs(N, C)}, {},
     np_soft_margin, ["input"]),
    ("multilabel_soft_margin_weight", "multilabel_soft_margin_loss",
     {"input": real(N, C), "target": bits(N, C), "weight": pos(C)}, {},
     np_multilabel_soft_margin, ["input", "weight"]),
    ("multilabel_margin", "multilabel_margin_loss",
     {"input": real(N, C), "target": multilabels(N, C)}, {}, np_multilabel_margin, ["input"]),
    ("multilabel_margin_unbatched", "multilabel_margin_loss",
     {"input": real(C), "target": multilabels(C)}, {}, np_multilabel_margin, ["input"]),
    ("multi_margin", "multi_margin_loss", {"input": real(N, C), "target": labels(N)}, {},
     np_multi_margin, ["input"]),
    ("multi_margin_p2_weight", "multi_margin_loss",
     {"input": real(N, C), "target": labels(N), "weight": pos(C)}, {"p": 2, "margin": 0.5},
     np_multi_margin, ["input", "weight"]),
    ("multi_margin_unbatched", "multi_margin_loss", {"input": real(C), "target": const(3)},
     {}, np_multi_margin, ["input"]),
    ("cosine_embedding", "cosine_embedding_loss",
     {"input1": real(N, D), "input2": real(N, D), "target": signs(N)}, {"margin": 0.2},
     np_cosine_embedding, ["input1", "input2"]),
    ("cosine_embedding_unbatched", "cosine_embedding_loss",
     {"input1": real(D), "input2": real(D), "target": const(-1.0)}, {"margin": -0.5},
     np_cosine_embedding, ["input1", "input2"]),
    ("triplet", "triplet_margin_loss",
     {"anchor": real(N, D), "positive": real(N, D), "negative": real(N, D)}, {"margin": 2.0},
     np_triplet, ["anchor", "positive", "negative"]),
    ("triplet_p1_swap", "triplet_margin_loss",
     {"anchor": real(N, D), "positive": real(N, D), "negative": real(N, D)},
     {"p": 1, "swap": True, "margin": 1.5, "eps": 1e-3}, np_triplet,
     ["anchor", "positive", "negative"]),
    ("triplet_unbatched_p3", "triplet_margin_loss",
     {"anchor": real(D), "positive": real(D), "negative": real(D)}, {"p": 3, "margin": 3.0},
     np_triplet, ["anchor", "positive", "negative"]),
    ("triplet_distance_default", "triplet_margin_with_distance_loss",
     {"anchor": real(N, D), "positive": real(N, D), "negative": real(N, D)},
     {"margin": 2.0, "swap": True}, np_triplet, ["anchor", "positive", "negative"]),
    ("ctc_padded", "ctc_loss", {"log_probs": CTC_LP, "targets": const([[1, 2], [2, 0]]),
                                "input_lengths": const([4, 3]),
                                "target_lengths": const([2, 1])}, {}, np_ctc, ["log_probs"]),
    ("ctc_concatenated_blank2", "ctc_loss",
     {"log_probs": CTC_LP, "targets": const([0, 1, 1]), "input_lengths": const([4, 4]),
      "target_lengths": const([1, 2])}, {"blank": 2}, np_ctc, ["log_probs"]),
    ("ctc_unbatched", "ctc_loss", {"log_probs": log_probs(4, 3), "targets": const([1, 1]),
                                   "input_lengths": const(4), "target_lengths": const(2)},
     {}, np_ctc, ["log_probs"]),
    ("ctc_zero_infinity", "ctc_loss",
     {"log_probs": CTC_LP, "targets": const([[1, 1], [2, 1]]), "input_lengths": const([2, 4]),
      "target_lengths": const([2, 2])}, {"zero_infinity": True}, np_ctc, ["log_probs"]),
]
CASES = [c if len(c) == 7 else (*c, M3) for c in CASES]
EACH = pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
EACH_MODE = pytest.mark.parametrize(
    "case,reduction", [(c, r) for c in CASES for r in c[6]],
    ids=[f"{c[0]}-{r}" for c in CASES for r in c[6]])


def arrays_of(case, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    out = {k: g(rng) for k, g in case[2].items()}
    return {k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in out.items()}


@pytest.fixture(autouse=True)
def _quiet_kl_mean():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="kl_div: reduction 'mean'")
        warnings.filterwarnings("ignore", message="reduction: 'mean' divides")    # torch's
        yield


@EACH_MODE
def test_value_matches_numpy(case, reduction):
    _, name, _, kw, ref, _, _ = case
    a = arrays_of(case, 0)
    np.testing.assert_allclose(getattr(F, name)(**a, reduction=reduction, **kw),
                               ref(reduction, **a, **kw), rtol=1e-10, atol=1e-12)


@EACH
def test_float32_in_float32_out(case):
    _, name, _, kw, ref, _, _ = case
    a = arrays_of(case, 1, np.float32)
    out = getattr(F, name)(**a, **kw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref("mean", **{k: v.astype(np.float64) if v.dtype.kind == "f"
                                                   else v for k, v in a.items()}, **kw),
                               rtol=2e-5, atol=1e-6)


@EACH
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_finite_differences(case, reduction):
    _, name, gens, kw, ref, diff, _ = case
    a = arrays_of(case, 2)
    keys = list(a)
    check_case_gradients(lambda *n: getattr(F, name)(**dict(zip(keys, n)), reduction=reduction,
                                                     **kw),
                         lambda *v: ref(reduction, **dict(zip(keys, v)), **kw),
                         [a[k] for k in keys], [keys.index(d) for d in diff], atol=1e-6)


def test_every_function_has_cases():
    assert {c[1] for c in CASES} == set(F.__all__) == set(F.CANONICAL)


def test_nodes_in_node_out():
    x, y = lg.input("x", shape=("N", C)), lg.input("y", shape=("N",), dtype="int64")
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    assert isinstance(loss, lg.Node) and loss.shape == ()
    (g,) = lg.gradients(loss, [x])
    xs, ys = np.random.default_rng(5).normal(size=(6, C)), np.arange(6) % C
    np.testing.assert_allclose(lg.evaluate(loss, {"x": xs, "y": ys}),
                               np_cross_entropy("mean", xs, ys, label_smoothing=0.1),
                               rtol=1e-12)
    assert lg.evaluate([loss, g], {"x": xs, "y": ys})[1].shape == (6, C)


# ---------------------------------------------------------------- torch's surprises
@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_all_ignored_mean_is_nan_sum_is_zero(fn):
    x, y = log_softmax(np.ones((3, C))), np.full(3, -100)
    assert np.isnan(fn(x, y))
    assert fn(x, y, reduction="sum") == 0.0
    np.testing.assert_array_equal(fn(x, y, reduction="none"), np.zeros(3))


def test_weighted_mean_divides_by_the_selected_class_weights():
    x, y, w = log_softmax(np.eye(3, C)), np.array([0, 0, 2]), np.array([1.0, 5.0, 3.0, 7.0])
    picked = -np.array([x[0, 0], x[1, 0], x[2, 2]]) * w[y]
    np.testing.assert_allclose(F.nll_loss(x, y, weight=w), picked.sum() / 5.0, rtol=1e-12)


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    out = F.binary_cross_entropy(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]),
                                 reduction="none")
    np.testing.assert_allclose(out, [100.0, 100.0, 0.0])


def test_kl_div_mean_averages_every_element_and_warns():
    a = arrays_of(CASES[[c[0] for c in CASES].index("kl_div")], 3)
    with pytest.warns(UserWarning, match="batchmean"):
        mean = F.kl_div(a["input"], a["target"])
    total = F.kl_div(a["input"], a["target"], reduction="sum")
    np.testing.assert_allclose(mean, total / (N * C), rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(a["input"], a["target"], reduction="batchmean"),
                               total / N, rtol=1e-12)


@pytest.mark.parametrize("size_average,reduce,mode", [
    (None, None, "mean"), (True, None, "mean"), (False, None, "sum"), (None, True, "mean"),
    (None, False, "none"), (True, True, "mean"), (False, True, "sum"), (True, False, "none"),
    (False, False, "none")])
def test_legacy_size_average_and_reduce_override_reduction(size_average, reduce, mode):
    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    out = F.mse_loss(x, y, size_average=size_average, reduce=reduce, reduction="sum")
    if size_average is None and reduce is None:
        mode = "sum"                                     # then reduction itself holds
    np.testing.assert_allclose(out, np_mse(mode, x, y))


def test_gaussian_nll_gradient_is_zero_where_var_is_floored():
    v = lg.input("v", shape=(2,))
    loss = F.gaussian_nll_loss(np.zeros(2), np.ones(2), v, eps=0.5, reduction="sum")
    (g,) = lg.gradients(loss, [v])
    np.testing.assert_allclose(lg.evaluate([loss, g], {"v": np.array([0.1, 2.0])})[1],
                               [0.0, 0.5 / 2.0 - 0.5 / 4.0])


def test_ctc_mean_divides_each_loss_by_its_target_length():
    case = CASES[[c[0] for c in CASES].index("ctc_padded")]
    a = arrays_of(case, 4)
    per = F.ctc_loss(**a, reduction="none")
    np.testing.assert_allclose(F.ctc_loss(**a), np.mean(per / a["target_lengths"]), rtol=1e-12)


def test_ctc_concatenated_targets_equal_padded_ones():
    lp = arrays_of(CASES[[c[0] for c in CASES].index("ctc_padded")], 5)["log_probs"]
    il, tl = np.array([4, 4]), np.array([2, 1])
    np.testing.assert_allclose(F.ctc_loss(lp, np.array([1, 2, 2]), il, tl, reduction="none"),
                               F.ctc_loss(lp, np.array([[1, 2], [2, 0]]), il, tl,
                                          reduction="none"), rtol=1e-12)


def test_triplet_with_a_lossgraph_distance_function():
    a = arrays_of(CASES[[c[0] for c in CASES].index("triplet")], 6)
    out = F.triplet_margin_with_distance_loss(
        **a, distance_function=lambda u, v: 1.0 - L.cosine_similarity(u, v), margin=0.4,
        swap=True, reduction="none")
    np.testing.assert_allclose(out, np_triplet("none", **a, margin=0.4, swap=True,
                                               dist=np_cos_distance), rtol=1e-10)


# ---------------------------------------------------------------- bad input
X, Y = np.zeros((N, C)), np.zeros(N, dtype=np.int64)
BAD = [
    (lambda: F.mse_loss(X, X[:, :2]), lg.ShapeError, "target has shape"),
    (lambda: F.l1_loss(X, X, weight=np.ones(C)), lg.ShapeError, "weight"),
    (lambda: F.huber_loss(X, X, delta=0.0), lg.OptionError, "delta must be a number > 0"),
    (lambda: F.mse_loss(X, X, reduction="avg"), lg.OptionError, "reduction"),
    (lambda: F.kl_div(X, X, reduction="batch"), lg.OptionError, "reduction"),
    (lambda: F.binary_cross_entropy(np.full(3, 1.5), np.ones(3)), lg.InputError,
     "between 0 and 1"),
    (lambda: F.binary_cross_entropy(np.full(3, 0.5), np.ones(2)), lg.ShapeError, "target"),
    (lambda: F.binary_cross_entropy_with_logits(X, X, pos_weight=np.ones(C + 1)),
     lg.ShapeError, "pos_weight"),
    (lambda: F.binary_cross_entropy_with_logits(X, X, weight=np.ones((2, N, C))),
     lg.ShapeError, "weight: shape"),
    (lambda: F.binary_cross_entropy(np.full(3, 0.5), np.ones(3), weight=np.ones(2)),
     lg.ShapeError, "weight: shape"),
    (lambda: F.cross_entropy(X, np.zeros(N - 1, dtype=int)), lg.ShapeError, "target"),
    (lambda: F.cross_entropy(X, np.array([0, 1, C])), lg.InputError, "out of range"),
    (lambda: F.cross_entropy(X, X, ignore_index=1), lg.OptionError, "ignore_index"),
    (lambda: F.cross_entropy(X, Y, label_smoothing=1.5), lg.OptionError, "label_smoothing"),
    (lambda: F.cross_entropy(X, Y, weight=np.ones(C - 1)), lg.ShapeError, "weight"),
    (lambda: F.cross_entropy(np.zeros(()), np.zeros((), dtype=int)), lg.ShapeError, "0-d"),
    (lambda: F.nll_loss(X, np.zeros(N)), lg.DTypeError, "target"),
    (lambda: F.gaussian_nll_loss(X, X, np.ones((N, 2))), lg.ShapeError, "var"),
    (lambda: F.gaussian_nll_loss(X, X, np.ones(C)), lg.ShapeError, "var"),
    (lambda: F.gaussian_nll_loss(X, X, np.ones((1, 1))), lg.ShapeError, "var"),
    (lambda: F.gaussian_nll_loss(X, X, -np.ones((N, C))), lg.InputError, "negative"),
    (lambda: F.gaussian_nll_loss(X, X, -1.0), lg.InputError, "negative"),
    (lambda: F.multi_margin_loss(X, Y, p=3), lg.OptionError, "p must be"),
    (lambda: F.multi_margin_loss(np.zeros((2, 2, 2)), np.zeros((2, 2), dtype=int)),
     lg.ShapeError, "input"),
    (lambda: F.multilabel_margin_loss(X, Y), lg.ShapeError, "target"),
    (lambda: F.margin_ranking_loss(X, X, np.ones(N)), lg.ShapeError, "same number of dims"),
    (lambda: F.triplet_margin_loss(X, X, X, margin=0.0), lg.OptionError, "margin must be"),
    (lambda: F.triplet_margin_with_distance_loss(X, X, X, margin=-1.0), lg.OptionError,
     "margin must be"),
    (lambda: F.triplet_margin_loss(X, X[0], X), lg.ShapeError, "positive"),
    (lambda: F.ctc_loss(np.zeros((4, 1, 2, 3)), np.ones((1, 1), dtype=int), [4], [1]),
     lg.ShapeError, "log_probs"),
    (lambda: F.ctc_loss(np.zeros((4, 1, 3)), np.ones((1, 1)), [4], [1]), lg.DTypeError,
     "targets"),
    (lambda: F.mse_loss(X, X, reducton="sum"), TypeError, "reduction"),
]


@pytest.mark.parametrize("call,error,text", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_named_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


# ---------------------------------------------------------------- torch itself
# (function, tensor) pairs torch refuses requires_grad for; compared by value only
TORCH_NOT_DIFFERENTIABLE = {("binary_cross_entropy_with_logits", "pos_weight"),
                            ("cross_entropy", "weight"), ("nll_loss", "weight"),
                            ("multi_margin_loss", "weight")}


def _torch_call(torch, name, a, kw, reduction, diff):
    import torch.nn.functional as TF
    t = {k: torch.tensor(v, requires_grad=k in diff) if v.dtype.kind == "f"
         else torch.tensor(v) for k, v in a.items()}
    out = getattr(TF, name)(**t, reduction=reduction, **kw)
    if diff:
        out.sum().backward()
    return out.detach().numpy(), {k: t[k].grad.numpy() for k in diff}


@EACH_MODE
def test_matches_torch_values_and_gradients(case, reduction):
    torch = pytest.importorskip("torch")
    _, name, _, kw, _, diff, _ = case
    a = arrays_of(case, 7)
    ctc = name == "ctc_loss"
    torch_diff = [] if ctc else [d for d in diff
                                   if (name, d) not in TORCH_NOT_DIFFERENTIABLE]
    want, want_grads = _torch_call(torch, name, a, kw, reduction, torch_diff)
    nodes = node_inputs(a)
    loss = getattr(F, name)(**nodes, reduction=reduction, **kw)
    total = lg.sum(loss) if loss.ndim else loss
    got, *grads = lg.evaluate([loss, *lg.gradients(total, [nodes[d] for d in diff])], a)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    for d, g in zip(diff, grads):
        if d in torch_diff:
            np.testing.assert_allclose(g, want_grads[d], rtol=1e-7, atol=1e-9, err_msg=d)


@pytest.mark.parametrize("reduction", M3)
def test_ctc_gradient_is_torchs_minus_its_softmax_term(reduction):
    """torch's d/d log_probs = exp(log_probs) g_n - posterior g_n (as if log_softmax came first);
    ours is the true derivative, -posterior g_n (checked against finite differences above)."""
    torch = pytest.importorskip("torch")
    a = arrays_of(CASES[[c[0] for c in CASES].index("ctc_padded")], 8)
    _, want = _torch_call(torch, "ctc_loss", a, {}, reduction, ["log_probs"])
    x = lg.input("lp", shape=a["log_probs"].shape)
    loss = F.ctc_loss(x, a["targets"], a["input_lengths"], a["target_lengths"],
                      reduction=reduction)
    total = lg.sum(loss) if loss.ndim else loss
    (g,) = lg.gradients(total, [x])
    got = lg.evaluate([total, g], {"lp": a["log_probs"]})[1]
    scale = {"none": np.ones(2), "sum": np.ones(2),
             "mean": 1.0 / (2 * a["target_lengths"])}[reduction]
    frames = np.arange(4)[:, None] < a["input_lengths"][None, :]
    softmax_term = np.exp(a["log_probs"]) * (frames * scale)[:, :, None]
    np.testing.assert_allclose(want["log_probs"], got + softmax_term, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("size_average,reduce", list(itertools.product([None, True, False],
                                                                        repeat=2)))
def test_legacy_keywords_match_torch(size_average, reduce):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    x, y = np.random.default_rng(9).normal(size=(2, 3)), np.arange(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = TF.nll_loss(torch.tensor(x), torch.tensor(y), size_average=size_average,
                           reduce=reduce, reduction="sum").numpy()
    np.testing.assert_allclose(F.nll_loss(x, y, size_average=size_average, reduce=reduce,
                                          reduction="sum"), want, rtol=1e-12)


def test_all_ignored_is_nan_in_torch_too():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    assert torch.isnan(TF.cross_entropy(torch.zeros(2, C), torch.full((2,), -100)))
    assert np.isnan(F.cross_entropy(np.zeros((2, C)), np.full(2, -100)))


def test_triplet_distance_function_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    a = arrays_of(CASES[[c[0] for c in CASES].index("triplet")], 10)
    want = TF.triplet_margin_with_distance_loss(
        *(torch.tensor(v) for v in a.values()), margin=0.4, swap=True,
        distance_function=lambda u, v: 1.0 - TF.cosine_similarity(u, v))
    got = F.triplet_margin_with_distance_loss(
        *a.values(), margin=0.4, swap=True,
        distance_function=lambda u, v: 1.0 - L.cosine_similarity(u, v))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)
