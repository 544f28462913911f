"""The reference interpreter's input checks and result conventions.

Every bad call raises a LossgraphError that is also the matching built-in (ValueError for
values and shapes, TypeError for dtypes) and names the argument, what was expected and what
came.
"""
import numpy as np
import pytest

import lossgraph as lg


def raises(kind, builtin, *fragments):
    """pytest.raises for kind, also checking the built-in base and the message fragments."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(kind)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            out = self.ctx.__exit__(*exc)
            if not out:  # no error, or another kind: pytest.raises already reports it
                return out
            err = self.info.value
            assert isinstance(err, lg.LossgraphError) and isinstance(err, builtin)
            for f in fragments:
                assert f in str(err), f"{f!r} not in {str(err)!r}"
            return out
    return Check()


@pytest.fixture
def xy():
    return lg.input("x", ("N", 3)), lg.input("y", ("N",), "int64")


def test_missing_input(xy):
    x, y = xy
    with raises(lg.InputError, ValueError, "missing input 'y'", "'x'"):
        lg.evaluate(lg.pick(x, y), x=np.zeros((2, 3)))


def test_extra_input(xy):
    x, _ = xy
    with raises(lg.InputError, ValueError, "unexpected input 'z'", "'x'"):
        lg.evaluate(x, x=np.zeros((2, 3)), z=np.zeros(2))


def test_wrong_shape(xy):
    x, _ = xy
    with raises(lg.ShapeError, ValueError, "input 'x'", "(N, 3)", "(2, 4)"):
        lg.evaluate(x, x=np.zeros((2, 4)))
    with raises(lg.ShapeError, ValueError, "input 'x'", "2 dims", "(6,)"):
        lg.evaluate(x, x=np.zeros(6))


def test_wrong_dtype(xy):
    x, y = xy
    with raises(lg.DTypeError, TypeError, "input 'y'", "int64", "float64"):
        lg.evaluate(lg.pick(x, y), x=np.zeros((2, 3)), y=np.zeros(2))
    with raises(lg.DTypeError, TypeError, "input 'x'", "float", "int64"):
        lg.evaluate(x, x=np.zeros((2, 3), dtype=np.int64))
    b = lg.input("b", (2,), "bool")
    with raises(lg.DTypeError, TypeError, "input 'b'", "bool", "int64"):
        lg.evaluate(b, b=np.array([0, 1]))
    f32 = lg.input("f", (2,), "float32")
    with raises(lg.DTypeError, TypeError, "input 'f'", "float32", "float64"):
        lg.evaluate(f32, f=np.zeros(2))
    with raises(lg.DTypeError, TypeError, "input 'x'", "object"):
        lg.evaluate(x, x=np.array([[None] * 3] * 2))


def test_symbolic_dim_bound_inconsistently(xy):
    x, y = xy
    with raises(lg.ShapeError, ValueError, "'N'", "4", "2"):
        lg.evaluate(lg.pick(x, y), x=np.zeros((2, 3)), y=np.zeros(4, dtype=np.int64))


def test_product_dims():
    x = lg.input("x", ("N", "T"))
    z = lg.input("z", ("N*T",))
    both = lg.sum(x) + lg.sum(z)
    got = lg.evaluate(both, x=np.ones((2, 3)), z=np.ones(6))
    assert got == 12.0
    with raises(lg.ShapeError, ValueError, "input 'z'", "'N*T' = 6", "5"):
        lg.evaluate(both, x=np.ones((2, 3)), z=np.ones(5))
    with raises(lg.ShapeError, ValueError, "'N*T'", "no input binds"):
        lg.evaluate(z, z=np.ones(6))
    r = lg.reshape(x, ("N*T",))
    np.testing.assert_array_equal(lg.evaluate(r, x=np.arange(6.0).reshape(2, 3)),
                                  np.arange(6.0))


def test_node_given_as_an_array(xy):
    x, _ = xy
    with raises(lg.InputError, ValueError, "input 'x'", "got a Node"):
        lg.evaluate(x, x=x)


def test_outputs_must_be_nodes():
    with pytest.raises(TypeError, match="output 1 is a ndarray"):
        lg.evaluate([lg.constant(1.0), np.zeros(2)])


def test_same_name_declared_twice_differently():
    a, b = lg.input("x", (2,)), lg.input("x", (3,))
    with raises(lg.InputError, ValueError, "'x'", "declared twice", "(2,)", "(3,)"):
        lg.evaluate(lg.sum(a) + lg.sum(b), x=np.zeros(2))


@pytest.mark.parametrize("build, arrays, bad", [
    (lambda x, y: lg.pick(x, y), dict(y=np.array([0, 3])), "3"),
    (lambda x, y: lg.pick(x, y), dict(y=np.array([-1, 0])), "-1"),
    (lambda x, y: lg.one_hot(y, 3), dict(y=np.array([0, 5])), "5"),
    (lambda x, y: lg.take_along_axis(x, lg.expand_dims(y, 1), 1), dict(y=np.array([7, 0])),
     "7"),
])
def test_labels_out_of_range(xy, build, arrays, bad):
    x, y = xy
    node = build(x, y)
    feed = {"x": np.zeros((2, 3)), **arrays}
    feed = {k: v for k, v in feed.items() if k in {n.name for n in lg.inputs_of([node])}}
    with raises(lg.InputError, ValueError, f"label {bad}", "[0, 3)"):
        lg.evaluate(node, feed)


def test_results():
    x = lg.input("x", (3,))
    arr32 = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    total, same = lg.evaluate([lg.sum(x), x], x=arr32)
    assert isinstance(total, np.float32) and total == 6.0  # 0-d -> NumPy scalar
    assert same.dtype == np.float32
    same[0] = 99.0
    assert arr32[0] == 1.0, "a result must not alias an input array"
    # the two ways of passing arrays agree; Python scalars bind float inputs
    s = lg.input("s")
    assert lg.evaluate(s * 2, s=1.5) == lg.evaluate(s * 2, {"s": 1.5}) == 3.0
    # mixed precisions of weak-float inputs run in the widest
    y = lg.input("y", (3,))
    assert lg.evaluate(x + y, x=arr32, y=np.zeros(3)).dtype == np.float64
    # int inputs accept any integer width
    i = lg.input("i", (2,), "int")
    np.testing.assert_array_equal(lg.evaluate(i * 2, i=np.array([1, 2], np.int32)), [2, 4])


def test_nan_in_inactive_branch_stays_out_of_values():
    x = lg.input("x", (3,))
    arr = np.array([-1.0, 0.0, 4.0])
    got = lg.evaluate(lg.where(x > 0, lg.sqrt(x), 0.0), x=arr)
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.0])
    m = lg.evaluate(lg.where(x > 0, x, -np.inf), x=arr)
    assert lg.evaluate(lg.logsumexp(lg.input("m", (3,))), m=m) == pytest.approx(4.0)
