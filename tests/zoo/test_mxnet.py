"""zoo.mxnet against MXNet Gluon's loss.py (seed 002): every class checked against an independent
NumPy transcription of its hybrid_forward, plus FD gradients, dtypes, weighting, stability and
errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lossgraph as lg
from zoo import mxnet as mx
from .zoo_refs import check_graph_grad

F64 = dict(rtol=1e-10, atol=1e-12)
rng = np.random.default_rng(2)


# ---------------------------------------------------------------- NumPy references
def mean_nonbatch(loss, batch_axis=0):
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis % loss.ndim)
    return loss.mean(axis=axes) if axes else loss


def weighting(loss, weight=None, sample_weight=None):
    if sample_weight is not None:
        loss = loss * sample_weight
    if weight is not None:
        loss = loss * weight
    return loss


def log_softmax(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def np_elementwise(name, pred, label, **kw):
    d = pred - label
    return {
        "L2Loss": lambda: d ** 2,
        "L1Loss": lambda: np.abs(d),
        "SigmoidBinaryCrossEntropyLoss": lambda: (
            -(np.log(pred + 1e-12) * label + np.log(1 - pred + 1e-12) * (1 - label))
            if kw.get("from_sigmoid") else
            np.maximum(pred, 0) - pred * label + np.log1p(np.exp(-np.abs(pred)))),
        "HuberLoss": lambda: np.where(np.abs(d) > kw.get("rho", 1),
                                      np.abs(d) - 0.5 * kw.get("rho", 1),
                                      0.5 / kw.get("rho", 1) * d ** 2),
        "HingeLoss": lambda: np.maximum(kw.get("margin", 1) - pred * label, 0),
        "SquaredHingeLoss": lambda: np.maximum(kw.get("margin", 1) - pred * label, 0) ** 2,
        "LogisticLoss": lambda: np.logaddexp(0, -pred * label),
    }[name]()


ELEMENTWISE = [
    ("L2Loss", {}), ("L1Loss", {}), ("SigmoidBinaryCrossEntropyLoss", {}),
    ("SigmoidBinaryCrossEntropyLoss", {"from_sigmoid": True}), ("HuberLoss", {}),
    ("HuberLoss", {"rho": 0.5}), ("HingeLoss", {}), ("HingeLoss", {"margin": 2.0}),
    ("SquaredHingeLoss", {}), ("SquaredHingeLoss", {"margin": 0.5}), ("LogisticLoss", {}),
]


def make_pair(name, kw, shape):
    if name == "SigmoidBinaryCrossEntropyLoss":
        pred = rng.uniform(0.05, 0.95, shape) if kw.get("from_sigmoid") else rng.normal(size=shape) * 3
        return pred, rng.uniform(0, 1, shape)
    if name in ("HingeLoss", "SquaredHingeLoss", "LogisticLoss"):
        return rng.normal(size=shape) * 2, rng.choice([-1.0, 1.0], shape)
    return rng.normal(size=shape) * 2, rng.normal(size=shape) * 2


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=[f"{n}-{k}" for n, k in ELEMENTWISE])
@pytest.mark.parametrize("shape,batch_axis", [((4, 3), 0), ((4, 3, 2), 0), ((3, 5, 2), 1),
                                              ((6,), 0)])
def test_elementwise_losses(name, kw, shape, batch_axis):
    pred, label = make_pair(name, kw, shape)
    loss = getattr(mx, name)(batch_axis=batch_axis, **kw)
    weight = 0.5 if name == "L2Loss" else None
    expected = mean_nonbatch(weighting(np_elementwise(name, pred, label, **kw), weight),
                             batch_axis)
    out = loss(pred, label)
    assert out.shape == (shape[batch_axis],)
    np.testing.assert_allclose(out, expected, **F64)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=[f"{n}-{k}" for n, k in ELEMENTWISE])
def test_weight_and_sample_weight(name, kw):
    pred, label = make_pair(name, kw, (4, 3))
    raw = np_elementwise(name, pred, label, **kw)
    for sw in [rng.uniform(0, 2, (4, 1)), rng.uniform(0, 2, (4, 3)), rng.uniform(0, 2, (3,)),
               np.float64(0.7)]:
        loss = getattr(mx, name)(weight=3.0, **kw)
        w = 1.5 if name == "L2Loss" else 3.0                # L2Loss applies weight / 2
        np.testing.assert_allclose(loss(pred, label, sw), mean_nonbatch(raw * sw * w), **F64)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_sample_weight_broadcasts_numpy_style(shape, data):
    shape = tuple(shape)
    batch_axis = data.draw(st.integers(0, len(shape) - 1))
    # any shape that broadcasts to the loss: trailing dims kept or set to 1, leading dropped
    lead = data.draw(st.integers(0, len(shape)))
    sw_shape = tuple(d if data.draw(st.booleans()) else 1 for d in shape[lead:])
    pred, label = rng.normal(size=shape), rng.normal(size=shape)
    sw = rng.uniform(0, 2, sw_shape)
    out = mx.L1Loss(weight=0.5, batch_axis=batch_axis)(pred, label, sw)
    np.testing.assert_allclose(out, mean_nonbatch(np.abs(pred - label) * sw * 0.5, batch_axis),
                               **F64)


def test_l2_default_weight_and_none():
    pred, label = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    half = 0.5 * ((pred - label) ** 2).mean(1)
    np.testing.assert_allclose(mx.L2Loss()(pred, label), half, **F64)
    np.testing.assert_allclose(mx.L2Loss(weight=None)(pred, label), half, **F64)
    np.testing.assert_allclose(mx.L2Loss(weight=4)(pred, label), 4 * half, **F64)


def test_label_is_reshaped_like_pred():
    pred, label = rng.normal(size=(4, 3)), rng.normal(size=(12,))
    np.testing.assert_allclose(mx.L1Loss()(pred, label),
                               np.abs(pred - label.reshape(4, 3)).mean(1), **F64)
    np.testing.assert_allclose(mx.L2Loss()(pred, label.reshape(4, 3, 1)),
                               0.5 * ((pred - label.reshape(4, 3)) ** 2).mean(1), **F64)
    with pytest.raises(lg.ShapeError, match="label"):
        mx.L1Loss()(pred, rng.normal(size=(4, 4)))


def test_aliases():
    assert mx.SigmoidBCELoss is mx.SigmoidBinaryCrossEntropyLoss
    assert mx.SoftmaxCELoss is mx.SoftmaxCrossEntropyLoss


# ---------------------------------------------------------------- softmax CE and KL
@pytest.mark.parametrize("axis,shape", [(-1, (4, 5)), (1, (3, 4, 2)), (-1, (2, 3, 4))])
def test_softmax_ce_sparse(axis, shape):
    pred = rng.normal(size=shape) * 3
    lshape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    label = rng.integers(0, shape[axis], lshape)
    logp = log_softmax(pred, axis)
    picked = -np.take_along_axis(logp, np.expand_dims(label, axis), axis)
    np.testing.assert_allclose(mx.SoftmaxCELoss(axis=axis)(pred, label),
                               mean_nonbatch(picked), **F64)
    sw = rng.uniform(0, 2, (shape[0],) + (1,) * (len(shape) - 1))
    np.testing.assert_allclose(mx.SoftmaxCELoss(axis=axis, weight=2)(pred, label, sw),
                               mean_nonbatch(picked * sw * 2), **F64)
    np.testing.assert_allclose(mx.SoftmaxCELoss(axis=axis, from_logits=True)(logp, label),
                               mean_nonbatch(picked), **F64)


def test_softmax_ce_dense_and_from_logits():
    pred = rng.normal(size=(4, 5))
    label = rng.dirichlet(np.ones(5), 4)
    logp = log_softmax(pred)
    expected = -(logp * label).sum(-1)
    np.testing.assert_allclose(mx.SoftmaxCELoss(sparse_label=False)(pred, label), expected,
                               **F64)
    np.testing.assert_allclose(mx.SoftmaxCELoss(sparse_label=False)(pred, label.ravel()),
                               expected, **F64)
    # from_logits: pred is taken as log-probabilities as given, not renormalized
    raw = rng.normal(size=(4, 5))
    np.testing.assert_allclose(
        mx.SoftmaxCELoss(sparse_label=False, from_logits=True)(raw, label),
        -(raw * label).sum(-1), **F64)
    ints = rng.integers(0, 5, 4)
    np.testing.assert_allclose(mx.SoftmaxCELoss(from_logits=True)(raw, ints),
                               -raw[np.arange(4), ints], **F64)


@pytest.mark.parametrize("from_logits", [True, False])
def test_kl_div(from_logits):
    label = rng.dirichlet(np.ones(4), 3)
    label[0, 1] = 0.0
    pred = rng.normal(size=(3, 4))
    logq = pred if from_logits else log_softmax(pred)
    raw = label * (np.log(label + 1e-12) - logq)
    np.testing.assert_allclose(mx.KLDivLoss(from_logits=from_logits)(pred, label),
                               raw.mean(1), **F64)
    sw = rng.uniform(0, 1, (3, 1))
    np.testing.assert_allclose(mx.KLDivLoss(from_logits=from_logits, weight=0.5)(pred, label, sw),
                               (raw * sw * 0.5).mean(1), **F64)


def test_kl_div_axis():
    pred, label = rng.normal(size=(3, 4, 2)), rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1)
    raw = label * (np.log(label + 1e-12) - log_softmax(pred, 1))
    np.testing.assert_allclose(mx.KLDivLoss(from_logits=False, axis=1)(pred, label),
                               raw.mean((1, 2)), **F64)


# ---------------------------------------------------------------- triplet
@pytest.mark.parametrize("shape,batch_axis", [((4, 3), 0), ((4, 3, 2), 0), ((3, 4), 1)])
def test_triplet(shape, batch_axis):
    a, p, n = (rng.normal(size=shape) for _ in range(3))
    axes = tuple(i for i in range(len(shape)) if i != batch_axis)
    for margin, weight in [(1, None), (0.3, 2.0)]:
        d = ((a - p) ** 2 - (a - n) ** 2).sum(axes)
        expected = np.maximum(d + margin, 0) * (1 if weight is None else weight)
        out = mx.TripletLoss(margin=margin, weight=weight, batch_axis=batch_axis)(a, p, n)
        np.testing.assert_allclose(out, expected, **F64)
    out = mx.TripletLoss(batch_axis=batch_axis)(a, p.ravel(), n)   # reshaped like pred
    np.testing.assert_allclose(out, np.maximum(((a - p) ** 2 - (a - n) ** 2).sum(axes) + 1, 0),
                               **F64)


# ---------------------------------------------------------------- CTC (brute force reference)
def ctc_brute(logp, labels, blank):
    T, C = logp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c)]
        if collapsed == list(labels):
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return -np.log(total) if total > 0 else 0.0            # MXNet: infeasible -> 0


def ctc_reference(pred_ntc, label_nt, pred_lengths=None, label_lengths=None):
    N, T, C = pred_ntc.shape
    out = []
    for b in range(N):
        row = list(label_nt[b])
        L = label_lengths[b] if label_lengths is not None else (
            row.index(-1) if -1 in row else len(row))
        Tb = pred_lengths[b] if pred_lengths is not None else T
        out.append(ctc_brute(log_softmax(pred_ntc[b, :Tb]), row[:L], C - 1))
    return np.array(out)


CTC_PRED = rng.normal(size=(3, 5, 4))                        # N=3, T=5, C=4 (blank 3)
CTC_LABEL = np.array([[1, 0, -1, -1], [2, 1, 1, -1], [0, 1, 0, 2]])


def test_ctc_ntc_padding():
    np.testing.assert_allclose(mx.CTCLoss()(CTC_PRED, CTC_LABEL),
                               ctc_reference(CTC_PRED, CTC_LABEL), rtol=1e-9)


def test_ctc_layouts_lengths_and_weights():
    ref = ctc_reference(CTC_PRED, CTC_LABEL)
    tnc = CTC_PRED.transpose(1, 0, 2)
    np.testing.assert_allclose(mx.CTCLoss(layout="TNC")(tnc, CTC_LABEL), ref, rtol=1e-9)
    np.testing.assert_allclose(mx.CTCLoss(layout="TNC", label_layout="TN")(tnc, CTC_LABEL.T),
                               ref, rtol=1e-9)
    lab_len = np.array([2, 3, 3])
    pred_len = np.array([5, 4, 5])
    np.testing.assert_allclose(
        mx.CTCLoss()(CTC_PRED, CTC_LABEL, pred_len, lab_len),
        ctc_reference(CTC_PRED, CTC_LABEL, pred_len, lab_len), rtol=1e-9)
    sw = np.array([1.0, 0.5, 2.0])
    np.testing.assert_allclose(mx.CTCLoss(weight=3.0)(CTC_PRED, CTC_LABEL, sample_weight=sw),
                               ref * sw * 3.0, rtol=1e-9)
    assert repr(mx.CTCLoss(label_layout="TN")) == "CTCLoss(batch_axis=1, w=None)"


def test_ctc_uniform_vectors_and_infeasible():
    pred = np.zeros((2, 10, 5))
    label = np.array([[1, 2, 3, 0], [1, 1, 3, 0]])
    np.testing.assert_allclose(mx.CTCLoss()(pred, label), [8.0870124, 8.9343102], rtol=1e-7)
    # 'aa' needs 3 frames; with 2 frames MXNet (warp-ctc CPU) returns 0
    out = mx.CTCLoss()(np.zeros((1, 2, 3)), np.array([[1, 1]]))
    assert out[0] == 0.0


def test_ctc_gradient():
    x = lg.input("pred", shape=CTC_PRED.shape, dtype="float64")
    loss = lg.sum(mx.CTCLoss()(x, CTC_LABEL))
    check_graph_grad(loss, x, {"pred": CTC_PRED})


# ---------------------------------------------------------------- gradients (float64 FD)


@pytest.mark.parametrize("name,kw", ELEMENTWISE, ids=[f"{n}-{k}" for n, k in ELEMENTWISE])
def test_gradient_elementwise(name, kw):
    pred, label = make_pair(name, kw, (3, 4))
    if name in ("L1Loss", "HuberLoss"):
        label = pred + rng.choice([-1, 1], pred.shape) * rng.uniform(0.1, 2, pred.shape)
    x = lg.input("pred", shape=(3, 4), dtype="float64")
    sw = rng.uniform(0.5, 1.5, (3, 1))
    loss = lg.sum(getattr(mx, name)(weight=2.0, **kw)(x, label, sw))
    assert isinstance(loss, lg.Node)
    check_graph_grad(loss, x, {"pred": pred})


def test_gradient_softmax_kl_triplet():
    pred = rng.normal(size=(3, 4))
    x = lg.input("pred", shape=(3, 4), dtype="float64")
    labels = rng.integers(0, 4, 3)
    check_graph_grad(lg.sum(mx.SoftmaxCELoss()(x, labels)), x, {"pred": pred})
    check_graph_grad(lg.sum(mx.SoftmaxCELoss(sparse_label=False)(x, rng.dirichlet(np.ones(4), 3))),
               x, {"pred": pred})
    check_graph_grad(lg.sum(mx.KLDivLoss(from_logits=False)(x, rng.dirichlet(np.ones(4), 3))), x,
               {"pred": pred})
    p, n = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    check_graph_grad(lg.sum(mx.TripletLoss(margin=10.0)(x, p, n)), x, {"pred": pred})


def test_mixed_node_and_array_inputs():
    pred, label = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    sw = rng.uniform(0.5, 1.5, (3, 1))
    x = lg.input("pred", shape=(3, 4), dtype="float64")
    out = mx.HuberLoss(rho=0.5)(x, label, sw)                # a Node and two arrays
    assert isinstance(out, lg.Node)
    np.testing.assert_allclose(lg.evaluate(out, pred=pred),
                               mx.HuberLoss(rho=0.5)(pred, label, sw), **F64)
    check_graph_grad(lg.sum(out), x, {"pred": pred})


def test_node_inputs_symbolic_shapes():
    x = lg.input("pred", shape=("N", "C"))
    y = lg.input("label", shape=("N", "C"))
    out = mx.L2Loss()(x, y)
    assert isinstance(out, lg.Node) and out.shape == ("N",)
    y_int = lg.input("label", shape=("N",), dtype="int64")
    assert mx.SoftmaxCELoss()(x, y_int).shape == ("N",)


# ---------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_pred(dtype):
    for name, kw in ELEMENTWISE:
        pred, label = make_pair(name, kw, (4, 3))
        out = getattr(mx, name)(**kw)(pred.astype(dtype), label.astype(dtype))
        assert out.dtype == dtype, name
        ref = getattr(mx, name)(**kw)(pred, label)
        np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 0, err_msg=name)
    out = mx.SoftmaxCELoss()(rng.normal(size=(4, 3)).astype(dtype), np.array([0, 1, 2, 0]))
    assert out.dtype == dtype


# ---------------------------------------------------------------- stability
def test_stable_extremes():
    x = np.array([[-100.0, 100.0]], dtype=np.float32)
    y = np.array([[1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(mx.SigmoidBCELoss()(x, y), [100.0], rtol=1e-6)
    signed = np.array([[1.0, -1.0]], dtype=np.float32)
    # MXNet's naive log(1 + exp(100)) overflows to inf in float32; the true value is 100
    np.testing.assert_allclose(mx.LogisticLoss()(x, signed), [100.0], rtol=1e-6)
    np.testing.assert_allclose(mx.SoftmaxCELoss()(x, np.array([0])), [200.0], rtol=1e-6)
    p = np.array([[0.0, 1.0, 0.0, 1.0]])
    z = np.array([[1.0, 0.0, 0.0, 1.0]])
    expected = np.mean([-np.log(1e-12), -np.log(1e-12), -np.log(1 + 1e-12),
                        -np.log(1 + 1e-12)])
    np.testing.assert_allclose(mx.SigmoidBCELoss(from_sigmoid=True)(p, z), [expected],
                               rtol=1e-9)
    kl = mx.KLDivLoss()(np.array([[-np.inf, 0.0]]), np.array([[0.5, 0.5]]))
    assert np.isinf(kl[0])                               # label > 0 where q = 0: KL is infinite


# ---------------------------------------------------------------- errors and repr
@pytest.mark.parametrize("bad", ["1.0", [1.0], np.ones(2)])
def test_weight_must_be_a_number(bad):
    with pytest.raises(lg.OptionError, match="weight"):
        mx.L1Loss(weight=bad)


def test_bad_options():
    with pytest.raises(lg.OptionError, match="layout"):
        mx.CTCLoss(layout="NCT")
    with pytest.raises(lg.OptionError, match="label_layout"):
        mx.CTCLoss(label_layout="NN")
    with pytest.raises(lg.OptionError, match="batch_axis"):
        mx.L1Loss(batch_axis=2)(np.zeros((2, 2)), np.zeros((2, 2)))


def test_sample_weight_shape_error():
    with pytest.raises(lg.ShapeError, match="weight"):
        mx.L1Loss()(np.zeros((4, 3)), np.zeros((4, 3)), np.ones((4, 2)))


def test_repr():
    assert repr(mx.L2Loss()) == "L2Loss(batch_axis=0, w=1.0)"
    assert repr(mx.L1Loss(weight=2, batch_axis=1)) == "L1Loss(batch_axis=1, w=2)"
    assert repr(mx.SoftmaxCELoss()) == "SoftmaxCrossEntropyLoss(batch_axis=0, w=None)"
    assert repr(mx.HuberLoss(rho=2)) == "HuberLoss(batch_axis=0, w=None)"


def test_docstrings():
    for name in mx.__all__:
        doc = getattr(mx, name).__doc__
        assert doc and "Source convention:" in doc, name
