"""mathlib at the edges: IEEE specials and signed zeros as NumPy, exp's overflow threshold and
denormal results rounded once, power's C99 special cases, and vector code in the optimized IR."""
import re

import numpy as np
import pytest

from codegen.llvm import handmade, mathlib

from .host import VECTOR

DTYPES = [np.float32, np.float64]
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 1e-30, -1e-30]

NUMPY = {
    "exp": np.exp, "exp_accurate": np.exp, "log": np.log, "log1p": np.log1p,
    "expm1": np.expm1, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "softplus": lambda x: np.logaddexp(0, x),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x), "sqrt": np.sqrt, "fabs": np.abs,
    "sign": np.sign,
}
BINARY = {"power": np.power, "maximum": np.maximum, "minimum": np.minimum,
          "xlogy": lambda x, y: np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1, y)))}


def same(a, b):
    """Same inf, zero (with its sign) or nan; finite non-zero values within 2 ulp."""
    exact = (np.isnan(a) & np.isnan(b)) | ((a == b) & (np.signbit(a) == np.signbit(b)))
    finite = np.isfinite(b) & (b != 0)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= 2 * np.spacing(np.abs(b))
    return np.where(finite, close, exact)


def binary_grid(dtype):
    xs, ys = np.meshgrid(np.array(SPECIALS + [3.0, -3.0, 0.25, 1e30], dtype),
                         np.array(SPECIALS + [3.0, -3.0, 0.25, 1e30, 1e-30], dtype))
    return xs.ravel(), ys.ravel()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(NUMPY))
def test_unary_specials_as_numpy(maps, name, dtype):
    x = np.array(SPECIALS, dtype)
    with np.errstate(all="ignore"):
        want = NUMPY[name](x.astype(np.float64)).astype(dtype)
    got = handmade.map_function(maps, name, dtype)(x)
    assert same(got, want).all(), dict(zip(x.tolist(), zip(got.tolist(), want.tolist())))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_specials_as_numpy(maps, name, dtype):
    """power's table is C99's (1^nan = 1, nan^0 = 1, (-8)^(1/3) = nan, (-0)^-3 = -inf, ...)."""
    x, y = binary_grid(dtype)
    with np.errstate(all="ignore"):
        want = BINARY[name](x.astype(np.float64), y.astype(np.float64)).astype(dtype)
    got = handmade.map_function(maps, name, dtype)(x, y)
    bad = ~same(got, want)
    assert not bad.any(), list(zip(x[bad], y[bad], got[bad], want[bad]))[:8]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_exp_overflow_threshold_as_numpy(maps, dtype):
    """Around the largest finite result: inf from exactly the same input as NumPy, and the
    finite results correctly rounded (NumPy's float32 SIMD exp is 1 ulp off at some of them)."""
    top = np.log(np.finfo(dtype).max.astype(np.float64)).astype(dtype)
    x = np.array([top], dtype)
    for _ in range(6):
        x = np.unique(np.concatenate([x, np.nextafter(x, dtype(np.inf)),
                                      np.nextafter(x, dtype(-np.inf))]))
    x = np.concatenate([x, np.array([top + 1, 1e4, np.inf], dtype)])
    with np.errstate(over="ignore"):
        want = np.exp(x)
        rounded = np.exp(x.astype(np.longdouble)).astype(dtype)
    got = handmade.map_function(maps, "exp", dtype)(x)
    assert np.isinf(want).any() and np.isfinite(want).any()
    assert (np.isinf(got) == np.isinf(want)).all()
    assert (got == rounded).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, off", [("exp", 0.03), ("exp_accurate", 2e-3)])
def test_exp_denormal_results(maps, name, off, dtype):
    """Denormal results against the exact value rounded once (the wider reference rounded to
    dtype): never more than one denormal step away; exp_accurate rounds once, so it differs only
    where the value sits within ~2^-56 of a midpoint (NumPy's float64 exp is correctly rounded
    there too, so this is NumPy's result); the lean exp rounds twice, off in a few percent."""
    fi = np.finfo(dtype)
    lo = np.log(float(fi.smallest_subnormal)) - 1
    hi = np.log(float(fi.tiny))
    x = np.linspace(lo, hi, 40_000).astype(dtype)
    wide = np.longdouble if dtype == np.float64 else np.float64
    want = np.exp(x.astype(wide)).astype(dtype)
    got = handmade.map_function(maps, name, dtype)(x)
    step = np.abs(got.astype(np.float64) - want) / float(fi.smallest_subnormal)
    assert (got < fi.tiny).mean() > 0.9 and step.max() <= 1.0
    assert (step != 0).mean() < off


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_log_of_denormals(maps, dtype):
    x = np.array([np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny / 3], dtype)
    got = handmade.map_function(maps, "log", dtype)(x)
    np.testing.assert_allclose(got, np.log(x.astype(np.float64)), rtol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("name", sorted(mathlib.FUNCTIONS))
def test_loops_vectorize_to_full_width(maps, name):
    """The optimized IR of every map loop holds the host's full vectors: <16 x float> and
    <8 x double> with AVX-512 (power's float32 path runs in float64); no libm call is left."""
    ir_text = maps.optimized_ir
    for dtype, want in (("float32", f"{VECTOR['float32']}|{VECTOR['float64']}"),
                        ("float64", VECTOR["float64"])):
        body = re.search(rf"define [^\n]*@map_{name}_{dtype}\(.*?\n}}", ir_text, re.S).group(0)
        assert re.search(want, body), f"{name} {dtype} did not vectorize"
    declared = re.findall(r"declare [^\n]*@([\w.]+)\(", ir_text)
    assert declared and all(d.startswith("llvm.") for d in declared), declared


def test_bce_kernels_vectorize(bce):
    assert VECTOR["float32"] in bce["float32"].jit.optimized_ir
    assert VECTOR["float64"] in bce["float64"].jit.optimized_ir


def test_type_errors_name_the_function():
    from llvmlite import ir
    b = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), [ir.IntType(32)]),
                                 "f").append_basic_block())
    with pytest.raises(TypeError, match="exp: expected a float or double"):
        mathlib.exp(b, b.function.args[0])


def test_edges_false_changes_nothing_inside_the_domain():
    """exp and log1p without their edge selects: the same bits on finite in-domain inputs."""
    import ctypes

    from llvmlite import ir

    from codegen.llvm import jit
    module = jit.new_module()
    d = ir.DoubleType()
    for name in ("exp", "log1p"):
        for edges in (True, False):
            f = ir.Function(module, ir.FunctionType(d, [d]), name=f"{name}_{edges}")
            b = ir.IRBuilder(f.append_basic_block())
            b.ret(getattr(mathlib, name)(b, f.args[0], edges=edges))
    jm = jit.compile_module(module)
    inside = {"exp": [-745.5, -700.0, -3.5, -1e-300, 0.0, 1e-20, 2.0, 700.0, 709.9],
              "log1p": [-0.999, -0.5, -1e-300, 0.0, 1e-20, 0.3, 2.0, 1e300]}
    for name, xs in inside.items():
        with_, without = (jm.function(f"{name}_{e}", ctypes.c_double, ctypes.c_double)
                          for e in (True, False))
        assert [with_(v) for v in xs] == [without(v) for v in xs]
