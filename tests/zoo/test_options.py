"""Option values are validated like arguments, and misspelled keywords name the loss.

Every numeric option of every canonical loss and every flavour declares its domain
(zoo.options); a value outside it is an OptionError naming the loss, the option, the allowed
range and the value, on arrays and on nodes alike.
"""
import inspect
import math
import numbers

import numpy as np
import pytest

import lossgraph as lg
import zoo
from zoo import inventory
from zoo import losses as L

# Numeric parameters that are not options with a range: axes, and weights (tensors).
NOT_OPTIONS = {"axis", "axes", "batch_axis", "dim", "weights", "weight", "sample_weight"}


def declared_domains(fn):
    found = {}
    while fn is not None:
        found.update(getattr(fn, "option_domains", {}))
        fn = getattr(fn, "__wrapped__", None)
    return found


def every_zoo_function():
    out = [(name, getattr(L, name)) for name in inventory.canonical_names()]
    for mod in inventory.flavour_modules():
        for name in mod.CANONICAL:
            obj = getattr(mod, name)
            out.append((f"{mod.__name__}.{name}", obj.__init__ if inspect.isclass(obj) else obj))
    return out


def test_every_numeric_option_declares_its_domain():
    missing = []
    for name, fn in every_zoo_function():
        tensors = set(getattr(fn, "tensor_params", ())) - {"c", "scale"}
        for p in inspect.signature(fn).parameters.values():
            numeric = isinstance(p.default, numbers.Number) and not isinstance(p.default, bool)
            if numeric and p.name not in NOT_OPTIONS | tensors and \
                    p.name not in declared_domains(fn):
                missing.append(f"{name}({p.name})")
    assert not missing, f"options without a declared domain: {missing}"


P, T = np.array([0.2, -1.5, 3.0]), np.array([0.0, 0.5, 1.0])
Z = np.array([0.0, 1.0, 1.0])
X2, Y2 = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 2.0]]), np.eye(3)[[2, 0]]
IMG = np.zeros((1, 2, 2, 3))

# (call with the bad value, how the message names the loss, the option, the allowed range)
BAD = [
    (lambda: L.huber(P, T, delta=-1), "huber", "delta", "> 0", "-1"),
    (lambda: L.huber(P, T, delta=0.0), "huber", "delta", "> 0", "0.0"),
    (lambda: L.huber(P, T, delta=math.nan), "huber", "delta", "> 0", "nan"),
    (lambda: L.huber(P, T, delta="1"), "huber", "delta", "> 0", "'1'"),
    (lambda: L.focal(P, Z, gamma=-1), "focal", "gamma", ">= 0", "-1"),
    (lambda: L.focal(P, Z, alpha=1.5), "focal", "alpha", "in [0, 1] or None", "1.5"),
    (lambda: L.focal(P, Z, alpha=np.array([0.2, 0.3, 1.5])), "focal", "alpha", "in [0, 1]",
     "from 0.2 to 1.5"),
    (lambda: L.softmax_cross_entropy(X2, Y2, label_smoothing=1.5), "softmax_cross_entropy",
     "label_smoothing", "in [0, 1]", "1.5"),
    (lambda: L.sigmoid_cross_entropy(P, Z, label_smoothing=-0.1), "sigmoid_cross_entropy",
     "label_smoothing", "in [0, 1]", "-0.1"),
    (lambda: L.sigmoid_cross_entropy(P, Z, pos_weight=-2.0), "sigmoid_cross_entropy",
     "pos_weight", ">= 0 or None", "-2.0"),
    (lambda: L.quantile(P, T, q=1.5), "quantile", "q", "in [0, 1]", "1.5"),
    (lambda: L.smooth_l1(P, T, beta=-1), "smooth_l1", "beta", ">= 0", "-1"),
    (lambda: L.binary_cross_entropy(np.full(3, 0.5), Z, eps=0.5), "binary_cross_entropy", "eps",
     "in [0, 0.5)", "0.5"),
    (lambda: L.kl_divergence(Y2, np.full((2, 3), 1 / 3), eps=1.0), "kl_divergence", "eps",
     "in [0, 1)", "1.0"),
    (lambda: L.hinge(P, 2 * Z - 1, margin=-1), "hinge", "margin", ">= 0", "-1"),
    (lambda: L.triplet(X2, X2, X2, margin=-0.5), "triplet", "margin", ">= 0", "-0.5"),
    (lambda: L.cosine_embedding(X2, X2, np.array([1.0, -1.0]), margin=2), "cosine_embedding",
     "margin", "in [-1, 1]", "2"),
    (lambda: L.tversky(np.full(3, 0.5)[None], Z[None], alpha=-1), "tversky", "alpha", ">= 0",
     "-1"),
    (lambda: L.roc_auc_surrogate(P, Z, p=0), "roc_auc_surrogate", "p", "> 0", "0"),
    (lambda: L.weak_cross_entropy_2d(IMG, IMG, num_classes=0), "weak_cross_entropy_2d",
     "num_classes", "an integer >= 1 or None", "0"),
    (lambda: L.l2(X2, scale=-1.0), "l2", "scale", ">= 0", "-1.0"),
    (lambda: L.ctc(np.zeros((2, 1, 3)), np.array([[1]]), blank=0.5), "ctc", "blank",
     "an integer", "0.5"),
    (lambda: zoo.tf.log_loss(np.full(3, 0.5), Z, epsilon=-1e-7), "tf.log_loss", "epsilon",
     ">= 0", "-1e-07"),
    (lambda: zoo.tf.softmax_cross_entropy(X2, Y2, label_smoothing=1.5),
     "tf.softmax_cross_entropy", "label_smoothing", "<= 1", "1.5"),
    (lambda: zoo.mxnet.HuberLoss(rho=-1), "mxnet.HuberLoss", "rho", ">= 0", "-1"),
    (lambda: zoo.mxnet.TripletLoss(margin=-1), "mxnet.TripletLoss", "margin", ">= 0", "-1"),
    (lambda: zoo.tflearn.weak_cross_entropy_2d(IMG, IMG, num_classes=2.5),
     "tflearn.weak_cross_entropy_2d", "num_classes", "an integer >= 1", "2.5"),
    (lambda: zoo.tflearn.L2(X2, wd=-0.1), "tflearn.L2", "wd", ">= 0", "-0.1"),
    (lambda: zoo.axon.binary_cross_entropy(Z, np.full(3, 0.5), positive_weight=-1.0),
     "axon.binary_cross_entropy", "positive_weight", ">= 0", "-1.0"),
    (lambda: zoo.tensorlayer.huber_loss(P, T, delta=-1.0), "tensorlayer.huber_loss", "delta",
     "> 0", "-1.0"),
    (lambda: zoo.tensorlayer.li_regularizer(1.5), "tensorlayer.li_regularizer", "scale",
     "in [0, 1)", "1.5"),
]


@pytest.mark.parametrize("call, owner, option, allowed, value", BAD,
                         ids=[f"{b[1]}-{b[2]}-{i}" for i, b in enumerate(BAD)])
def test_option_outside_its_domain_names_loss_option_range_and_value(call, owner, option,
                                                                     allowed, value):
    with pytest.raises(lg.OptionError) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(f"{owner}: {option} must be ") and allowed in msg and value in msg, msg


def test_huber_with_negative_delta_no_longer_returns_a_number():
    """It returned -1.5 for d = 0: the 'loss' of a perfect prediction."""
    with pytest.raises(lg.OptionError, match="huber: delta must be a number > 0, got -1"):
        L.huber(np.zeros(1), np.zeros(1), delta=-1)


def test_options_are_checked_on_nodes_too():
    p, t = lg.input("p", shape=("N",)), lg.input("t", shape=("N",))
    with pytest.raises(lg.OptionError, match="huber: delta"):
        L.huber(p, t, delta=-1)
    with pytest.raises(lg.OptionError, match="focal: gamma"):
        L.focal(p, t, gamma=-0.5)


def test_boundary_values_are_accepted_and_match_the_formula():
    d = P - T
    # label smoothing 1: every target is 1 / 2 (sigmoid) or 1 / C (softmax)
    np.testing.assert_allclose(L.sigmoid_cross_entropy(P, Z, label_smoothing=1.0),
                               np.logaddexp(0, P) - P * 0.5, rtol=1e-12)
    logp = X2 - np.log(np.exp(X2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(L.softmax_cross_entropy(X2, Y2, label_smoothing=1.0),
                               -logp.mean(axis=1), rtol=1e-12)
    # gamma 0 and alpha None: plain sigmoid cross-entropy; q = 0 and 1: the one-sided pinball
    np.testing.assert_allclose(L.focal(P, Z, alpha=None, gamma=0.0),
                               np.logaddexp(0, P) - P * Z, rtol=1e-12)
    np.testing.assert_allclose(L.quantile(P, T, q=1.0), np.maximum(-d, 0), rtol=1e-12)
    np.testing.assert_allclose(L.quantile(P, T, q=0.0), np.maximum(d, 0), rtol=1e-12)
    # delta = inf: never linear, the plain half square
    np.testing.assert_allclose(L.huber(P, T, delta=math.inf), 0.5 * d ** 2, rtol=1e-12)
    np.testing.assert_allclose(L.smooth_l1(P, T, beta=0), np.abs(d), rtol=1e-12)


@pytest.mark.parametrize("call, owner, wrong, right", [
    (lambda: L.huber(P, T, detla=2), "huber", "detla", "delta"),
    (lambda: L.focal(P, Z, gama=2), "focal", "gama", "gamma"),
    (lambda: L.huber(P, T, reductoin="sum"), "huber", "reductoin", "reduction"),
    (lambda: zoo.tf.log_loss(np.full(3, 0.5), Z, epsilno=1e-3), "tf.log_loss", "epsilno",
     "epsilon"),
    (lambda: zoo.axon.mean_squared_error(T, P, reductions="mean"), "axon.mean_squared_error",
     "reductions", "reduction"),
    (lambda: zoo.mxnet.HuberLoss()(P, T, sample_wieght=None), "mxnet.HuberLoss",
     "sample_wieght", "sample_weight"),
])
def test_misspelled_keyword_names_the_loss_and_suggests_the_keyword(call, owner, wrong, right):
    with pytest.raises(TypeError) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(f"{owner}() got an unexpected keyword '{wrong}'"), msg
    assert f"(did you mean '{right}'?)" in msg


def test_missing_argument_names_the_loss():
    with pytest.raises(TypeError, match=r"^huber\(\): missing a required argument: 'target'"):
        L.huber(P)


def test_a_long_keyword_is_shortened_in_the_message():
    with pytest.raises(TypeError) as e:
        L.huber(P, T, **{"d" * 10_000: 1})
    assert len(str(e.value)) < 300


def test_a_long_choice_value_is_shortened_in_the_message():
    with pytest.raises(lg.OptionError) as e:
        L.huber(P, T, reduction="x" * 10_000)
    assert "reduction: expected one of 'none'" in str(e.value) and len(str(e.value)) < 300
    with pytest.raises(lg.OptionError) as e:
        zoo.mxnet.CTCLoss(layout="N" * 10_000)
    assert len(str(e.value)) < 200
