"""codegen.interop.torch against PyTorch's own losses: values, gradients (gradcheck in
float64), torch.compile(fullgraph=True), torch.func, a 20-step SGD loop, and the errors."""
import pytest

from ..lazy import lazy

torch = lazy("torch")
F = lazy("torch.nn.functional")

import codegen                                   # noqa: E402
import lossgraph as lg                           # noqa: E402
from lossgraph.errors import DTypeError, GradientError, InputError, OptionError  # noqa: E402
from zoo import losses                           # noqa: E402

from .interop_kernels import BACKENDS, bce_kernel, ce_kernel  # noqa: E402
MODES = ["op", "function"]


def bce_data(n=9, dtype=None, seed=0):
    dtype = torch.float64 if dtype is None else dtype
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dtype=dtype, generator=g),
            (torch.rand(n, generator=g) > 0.5).to(dtype))


def ce_data(n=7, c=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, dtype=torch.float64, generator=g),
            torch.randint(0, c, (n,), generator=g))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_value_and_grad_match_torch(backend, mode):
    for kernel, data, ref in [(bce_kernel(backend), bce_data(), F.binary_cross_entropy_with_logits),
                              (ce_kernel(backend), ce_data(), F.cross_entropy)]:
        f = kernel.to_torch(mode=mode)
        x, y = data
        x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
        ours, theirs = f(x1, y), ref(x2, y)
        ours.backward(torch.tensor(2.5, dtype=torch.float64))
        theirs.backward(torch.tensor(2.5, dtype=torch.float64))
        assert ours.dtype == theirs.dtype and ours.shape == ()
        torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=0)
        torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_by_name_and_float32(mode):
    f = bce_kernel(BACKENDS[-1]).to_torch(mode=mode)
    x, z = bce_data(dtype=torch.float32)
    x.requires_grad_()
    loss = f(labels=z, logits=x)
    loss.backward()
    assert loss.dtype == x.grad.dtype == torch.float32
    ref = x.detach().clone().requires_grad_()
    F.binary_cross_entropy_with_logits(ref, z).backward()
    torch.testing.assert_close(x.grad, ref.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_zoo_losses(backend, mode):
    p, t = lg.input("pred", shape=("N", "C")), lg.input("target", shape=("N", "C"))
    cases = [(losses.huber(p, t, reduction="mean"), [p]),
             (losses.softmax_cross_entropy(p, t, reduction="mean"), [p, t]),
             (losses.sigmoid_cross_entropy(p, t, reduction="sum"), [p, t])]
    g = torch.Generator().manual_seed(1)
    for loss, wrt in cases:
        f = codegen.compile(loss, wrt=wrt, backend=backend).to_torch(mode=mode)
        a = torch.randn(5, 3, dtype=torch.float64, generator=g, requires_grad=True)
        b = torch.rand(5, 3, dtype=torch.float64, generator=g, requires_grad=len(wrt) > 1)
        assert torch.autograd.gradcheck(f, (a, b))


def test_compile_fullgraph_matches_eager():
    f = ce_kernel(BACKENDS[-1]).to_torch()
    x, y = ce_data()
    compiled = torch.compile(lambda a, b: f(a, b) * 3.0, fullgraph=True, backend="aot_eager")
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    value = compiled(x1, y)
    value.backward()
    (f(x2, y) * 3.0).backward()
    torch.testing.assert_close(value, 3.0 * F.cross_entropy(x, y), rtol=1e-13, atol=0)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=0)


def test_opcheck():
    f = bce_kernel("numpy").to_torch()
    x, z = bce_data()
    torch.library.opcheck(f.op, ([x.requires_grad_(), z],))


@pytest.mark.parametrize("mode", ["op", "function"])
def test_torch_func_grad(mode):
    f = bce_kernel(BACKENDS[-1]).to_torch(mode=mode)
    x, z = bce_data()
    ours = torch.func.grad(lambda a: f(a, z))(x)
    theirs = torch.func.grad(lambda a: F.binary_cross_entropy_with_logits(a, z))(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)


def test_each_context_takes_its_path():
    """Eager mode runs the ctx-first autograd.Function (cheap per call), torch.compile the
    custom op (one graph), torch.func the setup_context Function."""
    k = bce_kernel("numpy")
    f = k.to_torch()
    x, z = bce_data()
    a = x.clone().requires_grad_()
    assert f(a, z).grad_fn.name() == f"{k.name}_EagerBackward"
    assert k.to_torch(mode="function")(a, z).grad_fn.name() == f"{k.name}_EagerBackward"
    graphs = torch._dynamo.explain(f)(a, z)
    assert graphs.graph_count == 1 and graphs.graph_break_count == 0
    assert f"torch.ops.{f.op._qualname.replace('::', '.')}" in graphs.graphs[0].code


def test_second_order_raises():
    x, z = bce_data()
    op_f = bce_kernel("numpy").to_torch(mode="op")
    fn_f = bce_kernel("numpy").to_torch(mode="function")
    for f in (op_f, fn_f):
        a = x.clone().requires_grad_()
        g, = torch.autograd.grad(f(a, z), a, create_graph=True)
        penalty = (g ** 2).sum() + (a ** 2).sum()    # would silently drop the kernel's part
        with pytest.raises(GradientError, match="second-order"):
            penalty.backward()
    with pytest.raises(GradientError, match="second-order"):
        torch.func.grad(lambda a: torch.func.grad(lambda u: fn_f(u, z))(a).sum())(x)


def test_sgd_logistic_regression_matches_torch():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(64, 5, dtype=torch.float64, generator=g)
    y = (torch.rand(64, generator=g) > 0.5).double()
    f = bce_kernel(BACKENDS[-1]).to_torch()
    params = []
    for loss_fn in (f, F.binary_cross_entropy_with_logits):
        w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w, b], lr=0.5)
        for _ in range(20):
            opt.zero_grad()
            loss_fn(X @ w + b, y).backward()
            opt.step()
        params.append((w.detach(), b.detach()))
    (w1, b1), (w2, b2) = params
    assert not torch.equal(w1, torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close(w1, w2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(b1, b2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, args, kwargs, ref_args", [
    ("cross_entropy", ("NC", "N:int64"), {"label_smoothing": 0.1}, None),
    ("binary_cross_entropy_with_logits", ("NC", "NC01"), {}, None),
    ("mse_loss", ("NC", "NC"), {}, None),
    ("huber_loss", ("NC", "NC"), {"delta": 0.5}, None),
])
def test_zoo_torch_flavour_matches_torch(name, args, kwargs, ref_args):
    zt = pytest.importorskip("zoo.torch")
    g = torch.Generator().manual_seed(4)
    makers = {"NC": (("N", "C"), "float", lambda: torch.randn(6, 3, dtype=torch.float64,
                                                              generator=g)),
              "NC01": (("N", "C"), "float", lambda: torch.rand(6, 3, dtype=torch.float64,
                                                               generator=g)),
              "N:int64": (("N",), "int64", lambda: torch.randint(0, 3, (6,), generator=g))}
    nodes = [lg.input(f"a{i}", shape=makers[a][0], dtype=makers[a][1])
             for i, a in enumerate(args)]
    f = codegen.compile(getattr(zt, name)(*nodes, **kwargs), wrt=[nodes[0]],
                        inputs=nodes).to_torch()
    tensors = [makers[a][2]() for a in args]
    x1, x2 = tensors[0].clone().requires_grad_(), tensors[0].clone().requires_grad_()
    ours = f(x1, *tensors[1:])
    theirs = getattr(F, name)(x2, *tensors[1:], **kwargs)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-15)


def test_errors():
    f = bce_kernel("numpy").to_torch()
    x, z = bce_data()
    with pytest.raises(DTypeError, match="'logits' must be float32 or float64, got torch.float16"):
        f(x.half(), z.half())
    with pytest.raises(InputError, match="'labels' must be a torch.Tensor, got ndarray"):
        f(x, z.numpy())
    with pytest.raises(InputError, match="CPU only"):
        f(x.to("meta"), z)
    with pytest.raises(InputError, match=r"missing input\(s\) \['labels'\]"):
        f(x)
    with pytest.raises(InputError, match="unknown input 'target'"):
        f(x, target=z)
    with pytest.raises(OptionError, match="mode must be one of"):
        bce_kernel("numpy").to_torch(mode="jit")
    f32 = bce_kernel("numpy", dtype="float32").to_torch()
    with pytest.raises(DTypeError, match="compiled for dtype float32, got torch.float64"):
        f32(x, z)


def test_exported_once_per_kernel():
    k = bce_kernel("numpy")
    assert k.to_torch() is k.to_torch()
    assert k.to_torch(mode="function") is not k.to_torch()
