"""References for the core tests: input generators by domain and central finite
differences in float64 (the oracle every vjp rule is checked against)."""
import numpy as np
from hypothesis import strategies as st

import lossgraph as lg


# --- input generators: gen(rng, shape) -> array; the domain each op needs
def real(rng, shape):
    return rng.normal(size=shape)


def wide(rng, shape):
    return 2.0 * rng.normal(size=shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def above_minus_one(rng, shape):
    return rng.uniform(-0.5, 2.0, size=shape)


def nonzero(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def mask(rng, shape):
    return rng.random(size=shape) < 0.5


def labels(depth):
    def gen(rng, shape):
        return rng.integers(0, depth, size=shape)
    return gen


DTYPE_OF = {np.dtype(bool): "bool", np.dtype(np.int64): "int64"}


def nodes_for(arrays, float_dtype="float"):
    """One lg.input per array, named a0, a1, ...; float arrays get float_dtype."""
    out = []
    for i, a in enumerate(arrays):
        dtype = DTYPE_OF.get(a.dtype, float_dtype)
        out.append(lg.input(f"a{i}", shape=a.shape, dtype=dtype))
    return out


def feed(arrays):
    return {f"a{i}": a for i, a in enumerate(arrays)}


def central_difference(f, arrays, index, eps=1e-6):
    """d f / d arrays[index] by central differences, one entry at a time (float64)."""
    x = arrays[index]
    out = np.zeros(x.shape)
    for pos in np.ndindex(*x.shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[index][pos] += eps
        minus[index][pos] -= eps
        out[pos] = (f(plus) - f(minus)) / (2 * eps)
    return out


def assert_close(got, want, rtol=1e-5, atol=1e-7, what=""):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


# --- shapes for hypothesis: dims are small ints or symbols
SYMBOLS = {"N": 5, "C": 7, "T": 11}  # values none of which is 1, so they never broadcast

dims = st.sampled_from([1, 2, 3, 4, "N", "C", "T"])
shapes = st.lists(dims, min_size=0, max_size=4).map(tuple)


@st.composite
def broadcastable_pair(draw):
    """Two shapes cut from one: leading dims dropped, some dims replaced by 1."""
    base = draw(st.lists(dims, min_size=0, max_size=4))

    def derive():
        keep = draw(st.integers(0, len(base)))
        tail = base[len(base) - keep:]
        return tuple(1 if draw(st.booleans()) else d for d in tail)
    return derive(), derive()


def concrete(shape):
    """Dims with the symbols substituted (products like "2*N*T" multiplied out)."""
    def value(d):
        if isinstance(d, int):
            return d
        return int(np.prod([int(p) if p.isdigit() else SYMBOLS[p] for p in d.split("*")]))
    return tuple(value(d) for d in shape)
