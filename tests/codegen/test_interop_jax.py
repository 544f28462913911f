"""codegen.interop.jax against JAX's own formulas: values and gradients under jit, grad,
value_and_grad and vmap, check_grads in float64, a 20-step SGD loop, and the limits."""
import numpy as np
import pytest

from ..lazy import lazy

jax = lazy("jax")
jnp = lazy("jax.numpy")
jax_test_util = lazy("jax.test_util")

import codegen                                   # noqa: E402
import lossgraph as lg                           # noqa: E402
from lossgraph.errors import DTypeError, GradientError, InputError  # noqa: E402
from zoo import losses                           # noqa: E402

from .interop_kernels import BACKENDS, bce_kernel, ce_kernel  # noqa: E402


pytestmark = pytest.mark.usefixtures("jax_x64")     # conftest: x64 in every thread


def jax_bce(x, z):
    return jnp.mean(jnp.logaddexp(0.0, x) - x * z)


def jax_ce(x, y):
    return jnp.mean(jax.nn.logsumexp(x, axis=1) - jnp.take_along_axis(x, y[:, None], 1)[:, 0])


def expected_path(backend):
    """The path to_jax takes: the XLA FFI handler for LLVM kernels, else the host callback."""
    return "xla_ffi" if backend == "llvm" else "callback"


def bce_data(n=9, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.standard_normal(n).astype(dtype)),
            jnp.asarray((rng.random(n) > 0.5).astype(dtype)))


def ce_data(n=7, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.standard_normal((n, c))), jnp.asarray(rng.integers(0, c, n))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_grad_value_and_grad_match_jax(backend):
    for kernel, data, ref in [(bce_kernel(backend), bce_data(), jax_bce),
                              (ce_kernel(backend), ce_data(), jax_ce)]:
        f = kernel.to_jax()
        assert f.path == expected_path(backend)
        x, y = data
        value, grad = jax.jit(jax.value_and_grad(f))(x, y)
        ref_value, ref_grad = jax.value_and_grad(ref)(x, y)
        np.testing.assert_allclose(value, ref_value, rtol=1e-14)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-16)
        assert value.dtype == jnp.float64 and grad.dtype == jnp.float64
    f = bce_kernel(backend).to_jax()     # eager grad and a jitted forward alone
    x, z = bce_data()
    np.testing.assert_allclose(jax.grad(f)(x, z), jax.grad(jax_bce)(x, z), rtol=1e-12,
                               atol=1e-16)
    np.testing.assert_allclose(jax.jit(f)(x, z), jax_bce(x, z), rtol=1e-14)


def test_by_name_float32_and_scaled_cotangent():
    f = bce_kernel(BACKENDS[-1]).to_jax()
    x, z = bce_data(dtype=np.float32)
    g = jax.grad(lambda a: 3.0 * f(labels=z, logits=a))(x)
    assert g.dtype == jnp.float32
    np.testing.assert_allclose(g, 3.0 * jax.grad(jax_bce)(x, z), rtol=2e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_grads_zoo_losses(backend):
    p, t = lg.input("pred", shape=("N", "C")), lg.input("target", shape=("N", "C"))
    rng = np.random.default_rng(1)
    a, b = jnp.asarray(rng.standard_normal((5, 3))), jnp.asarray(rng.random((5, 3)))
    for loss, wrt in [(losses.huber(p, t, reduction="mean"), [p]),
                      (losses.softmax_cross_entropy(p, t, reduction="mean"), [p, t]),
                      (losses.sigmoid_cross_entropy(p, t, reduction="sum"), [p, t])]:
        f = codegen.compile(loss, wrt=wrt, backend=backend).to_jax()
        assert f.path == expected_path(backend)
        args = (a, b) if len(wrt) == 2 else (a,)
        jax_test_util.check_grads(lambda *xs: f(*xs, *(() if len(wrt) == 2 else (b,))), args,
                                  order=1, modes=["rev"])


def test_vmap_sequential():
    f = ce_kernel(BACKENDS[-1]).to_jax()
    assert f.path == expected_path(BACKENDS[-1])
    rng = np.random.default_rng(2)
    X = jnp.asarray(rng.standard_normal((3, 6, 4)))
    Y = jnp.asarray(rng.integers(0, 4, (3, 6)))
    np.testing.assert_allclose(jax.vmap(f)(X, Y), jax.vmap(jax_ce)(X, Y), rtol=1e-13)
    np.testing.assert_allclose(jax.vmap(jax.grad(f))(X, Y),
                               jax.vmap(jax.grad(jax_ce))(X, Y), rtol=1e-12, atol=1e-16)


def test_sgd_logistic_regression_matches_jax():
    rng = np.random.default_rng(3)
    X = jnp.asarray(rng.standard_normal((64, 5)))
    y = jnp.asarray((rng.random(64) > 0.5).astype(np.float64))
    f = bce_kernel(BACKENDS[-1]).to_jax()
    assert f.path == expected_path(BACKENDS[-1])
    results = []
    for loss_fn in (f, jax_bce):
        step = jax.jit(jax.grad(lambda params: loss_fn(X @ params[0] + params[1], y)))
        params = (jnp.zeros(5), jnp.zeros(()))
        for _ in range(20):
            gw, gb = step(params)
            params = (params[0] - 0.5 * gw, params[1] - 0.5 * gb)
        results.append(params)
    (w1, b1), (w2, b2) = results
    assert float(jnp.abs(w1).max()) > 0.01
    np.testing.assert_allclose(w1, w2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, b2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend, path", [("numpy", "callback"), ("llvm", "xla_ffi")])
def test_limits_raise(backend, path):
    f = bce_kernel(backend).to_jax()
    assert f.path == path
    x, z = bce_data()
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda a: f(a, z), (x,), (x,))
    with pytest.raises(GradientError, match="second-order"):
        jax.grad(lambda a: jax.grad(f)(a, z).sum())(x)
    with pytest.raises(GradientError, match="second-order"):
        jax.hessian(f)(x, z)


def test_errors():
    f = bce_kernel("numpy").to_jax()
    x, z = bce_data()
    with pytest.raises(DTypeError, match="'logits' must be float32 or float64, got float16"):
        f(x.astype(jnp.float16), z)
    with pytest.raises(InputError, match=r"missing input\(s\) \['labels'\]"):
        f(x)
    with pytest.raises(InputError, match="'labels' must be a JAX or NumPy array, got str"):
        f(x, "z")
    f32 = bce_kernel("numpy", dtype="float32").to_jax()
    with pytest.raises(DTypeError, match="compiled for dtype float32, got float64"):
        f32(x, z)
