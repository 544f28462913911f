"""A picklable stand-in for a compiled kernel: the graph's JSON plus the compile options.

    h = KernelHandle.of(loss_node, inputs=[...], wrt=["logits"], backend="llvm")
    h.kernel()        # compiled on first use, once per process (under a lock), then cached

A kernel holds native code (a ctypes pointer cannot be pickled); the handle carries only what
rebuilds it, so it travels to Dask workers as a few kilobytes and tokenizes by a content hash
(dask.base.tokenize gives the same token in every process and run).
"""
from __future__ import annotations

import hashlib
import json
import threading

import lossgraph as lg
from lossgraph.errors import OptionError

_COMPILED = {}
_LOCK = threading.Lock()


class KernelHandle:
    """graph_json: lg.to_json([*outputs, *inputs in argument order]), n_outputs of them
    outputs (the first differentiated); the rest: compile()'s."""

    __slots__ = ("graph_json", "n_outputs", "wrt", "backend", "dtype", "name", "options",
                 "token")

    def __init__(self, graph_json, wrt, backend, dtype, name, options, n_outputs=1):
        self.graph_json, self.n_outputs = graph_json, n_outputs
        self.wrt, self.backend = tuple(wrt), backend
        self.dtype, self.name, self.options = dtype, name, tuple(sorted(dict(options).items()))
        try:
            text = json.dumps([graph_json, n_outputs, self.wrt, backend, dtype, name,
                               self.options])
        except TypeError:
            raise OptionError(f"KernelHandle: compile options must be JSON values (they travel "
                              f"to other processes), got {dict(options)!r}") from None
        self.token = hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def of(cls, loss, inputs, wrt, backend="numpy", dtype=None, name=None, **options):
        """The handle of compile(loss, wrt=wrt, inputs=inputs, backend=..., dtype=..., ...);
        loss: a Node or a list of Nodes."""
        outputs = list(loss) if isinstance(loss, (list, tuple)) else [loss]
        return cls(lg.to_json([*outputs, *inputs]), wrt, backend, dtype, name or "loss",
                   options, len(outputs))

    def kernel(self):
        """The compiled kernel: built once per process, then taken from the cache."""
        k = _COMPILED.get(self.token)
        if k is None:
            with _LOCK:
                k = _COMPILED.get(self.token)
                if k is None:
                    import codegen
                    nodes = lg.from_json(self.graph_json)
                    outs, inputs = nodes[:self.n_outputs], nodes[self.n_outputs:]
                    loss = outs if self.n_outputs > 1 else outs[0]
                    k = codegen.compile(loss, wrt=list(self.wrt) or None, inputs=inputs,
                                        backend=self.backend, dtype=self.dtype, name=self.name,
                                        **dict(self.options))
                    _COMPILED[self.token] = k
        return k

    def __call__(self, *arrays):
        return self.kernel()(*arrays)

    def __reduce__(self):
        return (KernelHandle, (self.graph_json, self.wrt, self.backend, self.dtype, self.name,
                               dict(self.options), self.n_outputs))

    def __dask_tokenize__(self):
        return ("lossgraph.KernelHandle", self.token)

    def __eq__(self, other):
        return isinstance(other, KernelHandle) and other.token == self.token

    def __hash__(self):
        return hash(self.token)

    def __repr__(self):
        return f"<KernelHandle {self.name} backend={self.backend} token={self.token[:12]}>"


def compiled_here():
    """Tokens of the handles compiled in this process (what precompile left on a worker)."""
    return sorted(_COMPILED)
