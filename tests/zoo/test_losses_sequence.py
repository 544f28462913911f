"""zoo.losses.sequence: CTC conventions (layouts, blanks, padding, lengths) and sequence
cross-entropy, against brute-force alignments, NumPy formulas and the seeds' numbers."""
import itertools

import numpy as np
import pytest

import lossgraph as lg
from zoo.losses.sequence import ctc, sequence_cross_entropy
from .zoo_refs import fd_array


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def brute_nll(lp_tnc, rows, blank):
    """-log p per sample by enumerating every path; rows = the unpadded label lists."""
    T, N, C = lp_tnc.shape
    out = []
    for n, target in enumerate(rows):
        total = -np.inf
        for path in itertools.product(range(C), repeat=T):
            merged = [c for i, c in enumerate(path) if c != blank and
                      (i == 0 or c != path[i - 1])]
            if merged == list(target):
                total = np.logaddexp(total, sum(lp_tnc[t, n, c] for t, c in enumerate(path)))
        out.append(-total)
    return np.array(out)


# --- CTC conventions

def test_mxnet_docstring_padding_example_blank_last():
    # vocab {a:0, b:1, c:2, blank:3}: 'ba', 'cbb', 'abac' padded with -1 (Gluon CTCLoss doc)
    labels = np.array([[1, 0, -1, -1], [2, 1, 1, -1], [0, 1, 0, 2]])
    rows = [[1, 0], [2, 1, 1], [0, 1, 0, 2]]
    pred = np.random.default_rng(0).normal(size=(3, 7, 4))  # NTC logits, as in Gluon
    got = ctc(pred, labels, blank=-1, from_logits=True, layout="NTC", padding=-1)
    lp = log_softmax(pred).transpose(1, 0, 2)
    np.testing.assert_allclose(got, brute_nll(lp, rows, blank=3), rtol=1e-10)
    explicit = ctc(pred, labels, label_lengths=np.array([2, 3, 4]), blank=3,
                   from_logits=True, layout="NTC")
    np.testing.assert_allclose(got, explicit, rtol=1e-12)


def test_padding_zero_with_blank_first_and_first_occurrence_rule():
    # MXNet blank_label='first' pads with 0; a row ends at its FIRST padding value
    labels = np.array([[1, 2, 0], [3, 0, 2]])
    lp = log_softmax(np.random.default_rng(1).normal(size=(5, 2, 4)))
    got = ctc(lp, labels, padding=0)
    np.testing.assert_allclose(got, brute_nll(lp, [[1, 2], [3]], blank=0), rtol=1e-10)


def test_without_padding_or_lengths_every_label_counts():
    labels = np.array([[1, 2], [2, 2]])
    lp = log_softmax(np.random.default_rng(2).normal(size=(5, 2, 3)))
    np.testing.assert_allclose(ctc(lp, labels), brute_nll(lp, [[1, 2], [2, 2]], 0),
                               rtol=1e-10)


def test_layouts_agree():
    rng = np.random.default_rng(3)
    lp = log_softmax(rng.normal(size=(6, 3, 5)))
    labels = np.array([[1, 2, 3], [4, 4, 0], [2, 0, 0]])
    lens, in_len = np.array([3, 2, 1]), np.array([6, 5, 3])
    base = ctc(lp, labels, in_len, lens)
    np.testing.assert_allclose(ctc(lp.transpose(1, 0, 2), labels.T, in_len, lens,
                                   layout="NTC", label_layout="SN"), base, rtol=1e-12)
    np.testing.assert_allclose(ctc(lp, labels.T, in_len, lens, label_layout="TN"), base,
                               rtol=1e-12)


def test_input_lengths_default_to_all_frames():
    lp = log_softmax(np.random.default_rng(4).normal(size=(4, 2, 3)))
    labels = np.array([[1, 2], [2, 1]])
    np.testing.assert_allclose(ctc(lp, labels), ctc(lp, labels, np.array([4, 4])))
    short = ctc(lp, labels, np.array([4, 2]))
    np.testing.assert_allclose(short[1], brute_nll(lp[:2, 1:], [[2, 1]], 0)[0], rtol=1e-10)


def test_from_logits_applies_log_softmax_over_classes():
    x = np.random.default_rng(5).normal(size=(4, 2, 3)) * 3
    labels = np.array([[1], [2]])
    np.testing.assert_allclose(ctc(x, labels, from_logits=True),
                               ctc(log_softmax(x), labels), rtol=1e-12)


def test_axon_seed_basic_case():
    # Axon v0.5.1 doctest: y_pred = log(0.2) everywhere (2, 10, 5), blank 0, NTC log-probs.
    # Exact CTC is 8.0870124, 8.9343102 (docs/zoo-conventions.md 5.13); Axon's own
    # eps-approximate recursion prints 8.08642292, 8.93304062.
    y_pred = np.full((2, 10, 5), -1.6094379425048828)
    y_true = np.array([[2, 3, 4, 1], [2, 2, 4, 1]])
    got = ctc(y_pred, y_true, label_lengths=np.array([4, 4]), layout="NTC")
    np.testing.assert_allclose(got, [8.0870124, 8.9343102], rtol=1e-7)
    np.testing.assert_allclose(got, [8.08642292022705, 8.933040618896484], rtol=2e-4)
    wider = ctc(y_pred, np.array([[2, 3, 4, 1, 1], [2, 2, 4, 1, 1]]),
                label_lengths=np.array([4, 4]), layout="NTC")
    np.testing.assert_allclose(wider, got, rtol=1e-12)


def test_mxnet_uniform_vectors_blank_last():
    # zoo-conventions 3.6: zeros (uniform softmax), T=10, C=5, blank 4, padded with -1... here
    # labels [1,2,3,0] with no padding present (0 is the real label 'a')
    pred = np.zeros((1, 10, 5))
    for labels, want in (([[1, 2, 3, 0]], 8.0870124), ([[1, 1, 3, 0]], 8.9343102)):
        got = ctc(pred, np.array(labels), blank=-1, from_logits=True, layout="NTC",
                  padding=-1)
        np.testing.assert_allclose(got, [want], rtol=1e-6)


AXON_COMPLEX = np.array([
    [-0.9714, -0.9640, -2.9779, -3.0708, -1.9462], [-3.0251, -2.2230, -0.4155, -2.4767, -2.3113],
    [-1.5946, -1.2221, -2.1956, -2.1702, -1.2839], [-0.2618, -2.5582, -2.9246, -3.6593, -2.6112],
    [-2.2140, -0.4346, -3.3434, -3.2254, -1.7830], [-2.9288, -2.9082, -2.0663, -0.7128, -1.2909],
    [-3.3950, -1.9521, -0.2629, -4.4295, -3.1303], [-0.9938, -1.1471, -2.5672, -2.3438, -1.9693],
    [-2.1427, -3.1549, -3.6807, -1.1077, -0.7246], [-2.2734, -2.6316, -3.7343, -0.4695, -1.7381]])


def test_axon_seed_complex_case():
    got = ctc(AXON_COMPLEX[None], np.array([[2, 3, 4, 1]]), label_lengths=np.array([4]),
              layout="NTC")
    np.testing.assert_allclose(got, [10.782031], rtol=1e-6)  # exact CTC
    np.testing.assert_allclose(got, [10.772387504577637], rtol=1.5e-3)  # Axon's approximation


def test_per_label_mean_is_torch_and_axon_mean():
    rng = np.random.default_rng(6)
    lp = log_softmax(rng.normal(size=(6, 3, 4)))
    labels = np.array([[1, 2, 3], [2, 2, 0], [0, 0, 0]])
    lens = np.array([3, 2, 0])
    per = brute_nll(lp, [[1, 2, 3], [2, 2], []], 0)
    want = np.mean(per / np.maximum(lens, 1))
    got = ctc(lp, labels, label_lengths=lens, per_label=True, reduction="mean")
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_impossible_alignment_inf_or_zero():
    lp = log_softmax(np.zeros((2, 1, 3)))
    labels = np.array([[1, 1]])
    assert ctc(lp, labels)[0] == np.inf
    assert ctc(lp, labels, zero_infinity=True)[0] == 0.0


def test_gradient_through_logits_matches_finite_differences():
    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(2, 5, 4))  # NTC logits
    labels = np.array([[2, 1, -1], [1, 1, -1]])  # padded with -1, blank last (3)
    in_len = np.array([5, 4])

    def loss(x):
        return ctc(x, labels, in_len, blank=-1, from_logits=True, layout="NTC", padding=-1,
                   reduction="sum")
    g = lg.grad(loss)(x0)
    rows = [[2, 1], [1, 1]]

    def ref(x):
        lp = log_softmax(x).transpose(1, 0, 2)
        return brute_nll(lp[:, :1], rows[:1], 3)[0] + brute_nll(lp[:4, 1:], rows[1:], 3)[0]
    np.testing.assert_allclose(g, fd_array(ref, x0), rtol=1e-5, atol=1e-8)
    assert (g[1, 4] == 0).all()  # frame past input_lengths


def test_peaked_logits_finite():
    labels = np.array([[1, 2]])
    align = np.array([0, 1, 0, 2, 2])
    x = np.where(np.arange(3) == align[:, None], 100.0, -100.0)[None]  # (1, T, C) NTC
    for arr in (x, -x):
        value, g = lg.value_and_grad(
            lambda v: ctc(v, labels, from_logits=True, layout="NTC", reduction="sum"))(arr)
        assert np.isfinite(value) and np.isfinite(g).all()
    np.testing.assert_allclose(ctc(x, labels, from_logits=True, layout="NTC"), 0.0,
                               atol=1e-12)


def test_float32_stays_float32():
    lp = log_softmax(np.random.default_rng(8).normal(size=(4, 2, 3))).astype(np.float32)
    got = ctc(lp, np.array([[1, 2], [2, 2]]), padding=-1)
    assert got.dtype == np.float32


def test_symbolic_graph_prints_its_conventions():
    x = lg.input("pred", ("N", "T", "C"))
    y = lg.input("label", ("N", "S"), "int64")
    text = lg.to_text(ctc(x, y, blank=-1, from_logits=True, layout="NTC", padding=-1))
    assert text.startswith("ctc(log_softmax(transpose(pred, perm=(1, 0, 2))), label")
    assert "blank=-1" in text


def test_option_errors():
    lp, labels = np.zeros((2, 1, 3)), np.array([[1]])
    with pytest.raises(lg.OptionError, match="layout"):
        ctc(lp, labels, layout="BTC")
    with pytest.raises(lg.OptionError, match="label_layout"):
        ctc(lp, labels, label_layout="NC")
    with pytest.raises(lg.InputError, match="labels"):
        ctc(lp, np.array([[0]]))  # the blank as a label


# --- sequence cross-entropy

def ce_numpy(logits, targets):
    return -np.take_along_axis(log_softmax(logits), targets[..., None], -1)[..., 0]


def test_tensorlayer_cross_entropy_seq_sum_over_tokens():
    rng = np.random.default_rng(9)
    B, T, C = 3, 4, 5
    logits, targets = rng.normal(size=(B * T, C)), rng.integers(0, C, size=(B, T))
    want = ce_numpy(logits, targets.reshape(-1)).sum()
    got = sequence_cross_entropy(logits, targets, reduction="sum")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got / B, want / B)  # cross_entropy_seq(..., batch_size=B)
    per_token = sequence_cross_entropy(logits, targets)
    assert per_token.shape == (B * T,)


def test_tensorlayer_cross_entropy_seq_with_mask():
    rng = np.random.default_rng(10)
    B, T, C = 3, 4, 5
    logits, targets = rng.normal(size=(B * T, C)), rng.integers(0, C, size=(B, T))
    mask = rng.integers(0, 2, size=(B, T))
    mask[0, 0] = 1
    ce = ce_numpy(logits, targets.reshape(-1))
    m = mask.reshape(-1).astype(float)
    loss, losses, weights, flat = sequence_cross_entropy(
        logits, targets, mask, reduction="weighted_mean", return_details=True)
    np.testing.assert_allclose(loss, (ce * m).sum() / m.sum(), rtol=1e-12)
    np.testing.assert_allclose(losses, ce * m, rtol=1e-12)
    np.testing.assert_array_equal(weights, m)
    np.testing.assert_array_equal(flat, targets.reshape(-1))


def test_token_shaped_logits():
    rng = np.random.default_rng(11)
    logits, targets = rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    np.testing.assert_allclose(sequence_cross_entropy(logits, targets),
                               ce_numpy(logits, targets), rtol=1e-12)


def test_empty_mask_gives_zero_and_finite_gradient():
    rng = np.random.default_rng(12)
    logits, targets = rng.normal(size=(6, 3)), rng.integers(0, 3, size=(2, 3))
    mask = np.zeros((2, 3))
    value, g = lg.value_and_grad(
        lambda x: sequence_cross_entropy(x, targets, mask, reduction="weighted_mean"))(logits)
    assert value == 0.0
    assert np.isfinite(g).all() and (g == 0).all()


def test_masked_mean_gradient_matches_finite_differences():
    rng = np.random.default_rng(13)
    logits, targets = rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    mask = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    g = lg.grad(lambda x: sequence_cross_entropy(x, targets, mask,
                                                 reduction="weighted_mean"))(logits)
    want = fd_array(lambda x: (ce_numpy(x, targets) * mask).sum() / mask.sum(), logits)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-9)


def test_peaked_logits_cross_entropy_finite():
    logits = np.array([[100.0, -100.0], [-100.0, 100.0]])
    got = sequence_cross_entropy(logits, np.array([[1, 1]]))
    np.testing.assert_allclose(got, [200.0, 0.0], atol=1e-12)


def test_shape_errors():
    logits = np.zeros((6, 3))
    with pytest.raises(lg.ShapeError, match="targets"):
        sequence_cross_entropy(logits, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(lg.ShapeError, match="mask"):
        sequence_cross_entropy(logits, np.zeros((2, 3), dtype=np.int64), np.ones((3, 3)))
    with pytest.raises(lg.ShapeError, match="logits"):
        sequence_cross_entropy(np.zeros(3), np.zeros(3, dtype=np.int64))
