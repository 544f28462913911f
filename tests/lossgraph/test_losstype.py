"""The Loss wrapper and the @lg.loss decorator."""
import numpy as np
import pytest

import lossgraph as lg


@lg.loss
def bce(logits: lg.Float["N"], targets: lg.Float["N"]):
    """Binary cross-entropy with logits, mean over N."""
    return lg.mean(lg.softplus(logits) - logits * targets)


def _bce_ref(x, z):
    return np.mean(np.logaddexp(0, x) - x * z)


def test_decorator_declares_inputs_from_annotations():
    assert list(bce.inputs) == ["logits", "targets"]
    assert bce.inputs["logits"].shape == ("N",)
    assert bce.inputs["logits"].dtype == "float"
    assert bce.name == "bce"
    assert "Binary cross-entropy" in bce.__doc__


def test_call_by_name_and_position():
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=7), (rng.random(7) > 0.5).astype(float)
    np.testing.assert_allclose(bce(logits=x, targets=z), _bce_ref(x, z))
    np.testing.assert_allclose(bce(x, z), _bce_ref(x, z))
    with pytest.raises(lg.InputError, match="given twice"):
        bce(x, logits=x, targets=z)
    with pytest.raises(lg.InputError, match="missing input 'targets'"):
        bce(logits=x)


def test_value_and_grad_matches_finite_differences():
    rng = np.random.default_rng(2)
    x, z = rng.normal(size=5), (rng.random(5) > 0.5).astype(float)
    value, grads = bce.value_and_grad(logits=x, targets=z)
    np.testing.assert_allclose(value, _bce_ref(x, z))
    h = 1e-6
    fd = np.array([(_bce_ref(x + h * e, z) - _bce_ref(x - h * e, z)) / (2 * h)
                   for e in np.eye(5)])
    np.testing.assert_allclose(grads["logits"], fd, rtol=1e-6, atol=1e-9)
    assert set(grads) == {"logits", "targets"}


def test_gradients_of_unknown_input_is_clear():
    with pytest.raises(lg.GradientError, match="'nope' is not an input"):
        bce.gradients("nope")


def test_int_inputs_are_not_differentiated_by_default():
    @lg.loss
    def ce(x: lg.Float["N", "C"], y: lg.Int64["N"]):
        return lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))
    assert list(ce.gradients()) == ["x"]
    with pytest.raises(lg.GradientError):
        ce.gradients("y")


def test_string_annotations_are_parsed_not_evaluated():
    def f(a: 'lg.Float["N", 3]', k: "Int64['N']"):
        return lg.sum(a) + lg.sum(lg.cast(k, "float"))
    f.__annotations__ = {"a": 'lg.Float["N", 3]', "k": "Int64['N']"}
    loss = lg.loss(f)
    assert loss.inputs["a"].shape == ("N", 3)
    assert loss.inputs["k"].dtype == "int64"

    def g(a: "__import__('os').system('echo hacked')"):
        return a
    with pytest.raises(lg.OptionError, match="not an input spec"):
        lg.loss(g)


def test_missing_annotation_and_undeclared_input():
    def f(a):
        return a
    with pytest.raises(lg.OptionError, match="needs an annotation"):
        lg.loss(f)
    a, b = lg.input("a", shape=()), lg.input("b", shape=())
    with pytest.raises(lg.InputError, match="uses input 'b'"):
        lg.Loss([a], a + b)


def test_printing_and_latex_of_a_loss():
    assert "softplus(logits)" in str(bce)
    assert "bce(logits: float[N], targets: float[N])" in repr(bce)
    assert bce._repr_latex_().startswith("$")
