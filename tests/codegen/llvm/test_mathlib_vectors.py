"""mathlib takes explicit vectors (<16 x float>, <8 x double>) as well as scalars, as its
docstring says: each function on a whole vector equals NumPy elementwise."""
import ctypes

import numpy as np
import pytest
from llvmlite import ir

from codegen.llvm import jit, mathlib as m

REFS = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "tanh": np.tanh,
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "softplus": lambda v: np.logaddexp(0, v),
        "exp_neg": lambda v: np.exp(-v), "exp_shifted": lambda v: np.exp(-v),
        "log1p_unit": np.log1p}
#: the lanes' range where it is not [-20, 20]: the lean functions' domains
DOMAINS = {"log": (0.05, 20.0), "log1p": (-0.9, 20.0), "exp_neg": (0.0, 20.0),
           "log1p_unit": (0.0, 1.0)}


@pytest.fixture(scope="module")
def kernels():
    out = {}
    mod = jit.new_module("vectors")
    for dtype, ty, lanes in ((np.float32, ir.FloatType(), 16), (np.float64, ir.DoubleType(), 8)):
        vt, pt = ir.VectorType(ty, lanes), ir.PointerType()
        for name in REFS:
            fname = f"{name}_{np.dtype(dtype).name}"
            f = ir.Function(mod, ir.FunctionType(ir.VoidType(), [pt, pt]), fname)
            b = ir.IRBuilder(f.append_basic_block())
            x = b.load(f.args[0], typ=vt, align=4)
            b.store(getattr(m, name)(b, x), f.args[1], align=4)
            b.ret_void()
    jm = jit.compile_module(mod)
    for dtype, lanes in ((np.float32, 16), (np.float64, 8)):
        for name in REFS:
            out[name, dtype] = (jm.function(f"{name}_{np.dtype(dtype).name}", None,
                                            ctypes.c_void_p, ctypes.c_void_p), lanes)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(REFS))
def test_vector_argument(kernels, name, dtype):
    fn, lanes = kernels[name, dtype]
    x = np.linspace(*DOMAINS.get(name, (-20.0, 20.0)), lanes).astype(dtype)
    y = np.empty_like(x)
    fn(x.ctypes.data, y.ctypes.data)
    want = REFS[name](x.astype(np.float64))
    np.testing.assert_allclose(y, want, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("width, values", [(32, [0, 10, 20, 79]), (32, [5] * 3),
                                           (64, [0, 1, 2, 7]), (64, [-3, 2 ** 40])])
def test_lanes_print_as_llvmlite_prints_the_constant(width, values):
    """lanes() is only a faster printer: its text is llvmlite's own for the same constant,
    one object serves equal lanes, and a shuffle accepts it as its mask."""
    ty = ir.VectorType(ir.IntType(width), len(values))
    c = m.lanes(ty, values)
    assert str(c) == str(ir.Constant(ty, values)) and c.get_reference() == \
        ir.Constant(ty, values).get_reference()
    assert m.lanes(ty, np.array(values)) is c
    if width == 32 and max(values) < 2 * 80:
        v = ir.Constant(ir.VectorType(ir.FloatType(), 80), None)
        b = ir.IRBuilder(ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []),
                                     "f").append_basic_block())
        assert b.shuffle_vector(v, v, c).type.count == len(values)
