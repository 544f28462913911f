"""Inputs of every width and names of every script: what binds an input, and how messages
name what came (lg.input, lg.evaluate's binding, the reductions' keywords)."""
import inspect

import numpy as np
import pytest

import lossgraph as lg

INTEGER_WIDTHS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                  np.uint64]


def softmax_ce(label_dtype):
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype=label_dtype)
    return lg.mean(lg.logsumexp(x, axis=1) - lg.pick(x, y, axis=1))


def reference_ce(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    return np.mean(lse - logits[np.arange(len(labels)), labels.astype(np.int64)])


@pytest.mark.parametrize("declared", ["int", "int32", "int64"])
@pytest.mark.parametrize("width", INTEGER_WIDTHS)
def test_integer_labels_of_every_width(declared, width):
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(5, 4)), np.array([0, 3, 1, 2, 3])
    got = lg.evaluate(softmax_ce(declared), logits=logits, labels=labels.astype(width))
    np.testing.assert_allclose(got, reference_ce(logits, labels), rtol=1e-12)


def test_bool_labels_bind_an_integer_input_as_0_and_1():
    logits, labels = np.arange(6.0).reshape(3, 2), np.array([True, False, True])
    got = lg.evaluate(softmax_ce("int64"), logits=logits, labels=labels)
    np.testing.assert_allclose(got, reference_ce(logits, labels.astype(int)), rtol=1e-12)


def test_integer_values_that_do_not_fit_are_refused_with_the_range():
    loss, logits = softmax_ce("int32"), np.zeros((2, 3))
    with pytest.raises(lg.DTypeError, match=r"input 'labels'.*int64 values from 0 to 4294967296"):
        lg.evaluate(loss, logits=logits, labels=np.array([0, 2**32]))
    with pytest.raises(lg.DTypeError, match=r"uint64 values .* outside int64"):
        lg.evaluate(softmax_ce("int64"), logits=logits, labels=np.array([0, 2**63], np.uint64))


def test_float_labels_still_refused_and_the_message_says_what_binds():
    with pytest.raises(lg.DTypeError) as e:
        lg.evaluate(softmax_ce("int64"), logits=np.zeros((2, 3)), labels=np.zeros(2))
    assert "input 'labels'" in str(e.value) and "any integer or bool" in str(e.value)
    assert "got dtype float64" in str(e.value)


def test_float16_computes_in_float32_and_returns_float32():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4, 3)).astype(np.float16)
    labels = np.array([0, 2, 1, 1])
    got = lg.evaluate(softmax_ce("int64"), logits=logits, labels=labels)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference_ce(logits.astype(np.float64), labels), rtol=1e-6)
    f32 = lg.input("f", shape=(2,), dtype="float32")
    assert lg.evaluate(f32 * 2, f=np.ones(2, np.float16)).dtype == np.float32
    from zoo import losses                                    # the zoo's array path alike
    p, t = np.array([0.5, -2.0], np.float16), np.array([0.0, 1.0], np.float16)
    out = losses.huber(p, t)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.125, 2.5], rtol=1e-6)   # d^2 / 2 and |d| - 1 / 2


def test_exact_float_widening_fills_a_float64_input_and_narrowing_is_refused():
    f64 = lg.input("a", shape=(2,), dtype="float64")
    f32 = lg.input("b", shape=(2,), dtype="float32")
    assert lg.evaluate(f64 + 0, a=np.ones(2, np.float32)).dtype == np.float64
    with pytest.raises(lg.DTypeError, match="input 'b': expected dtype float32"):
        lg.evaluate(f32 + 0, b=np.ones(2))


def test_zoo_loss_takes_int8_labels_on_nodes_and_arrays():
    from zoo import losses
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(4, 3)), np.array([2, 0, 1, 1], np.int8)
    x = lg.input("logits", shape=("N", "C"))
    y = lg.input("labels", shape=("N",), dtype="int64")
    graph = losses.sparse_softmax_cross_entropy(x, y, reduction="mean")
    want = reference_ce(logits, labels)
    np.testing.assert_allclose(lg.evaluate(graph, logits=logits, labels=labels), want, rtol=1e-12)
    np.testing.assert_allclose(losses.sparse_softmax_cross_entropy(logits, labels,
                                                                   reduction="mean"),
                               want, rtol=1e-12)


@pytest.mark.parametrize("name", ["θ", "logits_é", "λ2", "lambda", "_x", "Δt"])
def test_every_python_identifier_is_an_input_name(name):
    x = lg.input(name, shape=(2,))
    assert x.name == name
    assert lg.evaluate(lg.sum(x * x), {name: np.array([1.0, 2.0])}) == 5.0
    assert lg.from_json(lg.to_json(lg.sum(x))) is lg.sum(x)


@pytest.mark.parametrize("name", ["1x", "a b", "x-y", "", "x.y", 3])
def test_non_identifiers_are_refused(name):
    with pytest.raises(lg.OptionError, match="input name: expected an identifier like 'logits'"):
        lg.input(name)


def test_misspelled_input_says_what_came_and_suggests_the_name():
    loss = softmax_ce("int64")
    with pytest.raises(lg.InputError) as e:
        lg.evaluate(loss, logit=np.zeros((2, 3)), labels=np.array([0, 1]))
    msg = str(e.value)
    assert "missing input 'logits'" in msg and "unexpected input 'logit'" in msg
    assert "did you mean 'logits'?" in msg and "passed were 'logit', 'labels'" in msg


def test_rebound_dim_names_the_input_that_bound_it():
    x, y = lg.input("x", shape=("N", "C")), lg.input("y", shape=("N",))
    with pytest.raises(lg.ShapeError) as e:
        lg.evaluate(lg.sum(x) + lg.sum(y), x=np.zeros((2, 3)), y=np.zeros(3))
    assert "input 'y': axis 0 is dim 'N' = 3" in str(e.value)
    assert "already bound to 2 by input 'x' (axis 0, shape (2, 3))" in str(e.value)


def test_a_long_name_is_shortened_in_messages():
    name = "x" * 10_000
    x = lg.input(name, shape=(3,))
    with pytest.raises(lg.ShapeError) as e:
        lg.evaluate(x, {name: np.zeros(4)})
    assert len(str(e.value)) < 300 and "(10000 chars)" in str(e.value)
    with pytest.raises(lg.OptionError) as e:
        lg.input(name + "!")
    assert len(str(e.value)) < 200
    with pytest.raises(lg.InputError) as e:
        lg.evaluate(x, {"y" * 10_000: np.zeros(3)})
    assert len(str(e.value)) < 400


@pytest.mark.parametrize("reduction", [lg.sum, lg.prod, lg.max, lg.min, lg.logsumexp])
def test_reductions_have_their_own_name_signature_and_keyword_message(reduction):
    x = lg.input("x", shape=(2, 3))
    assert reduction.__name__ in ("sum", "prod", "max", "min", "logsumexp")
    assert list(inspect.signature(reduction).parameters) == ["x", "axis", "keepdims"]
    with pytest.raises(TypeError) as e:
        reduction(x, axes=1)
    msg = str(e.value)
    assert "<locals>" not in msg and f"lg.{reduction.__name__}()" in msg
    assert "'axes' (did you mean 'axis'?)" in msg
