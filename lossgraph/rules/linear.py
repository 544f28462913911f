"""Sums and products in one normal form.

A product is c * (f1 f2 ...) / (d1 d2 ...): the scalar constant c folded from every factor,
negations and divisions collected, a factor that is both above and below cancelled (x / x = 1,
for x != 0). A sum is a list of such monomials with like terms collected (p + p -> 2 p,
3 p - p -> 2 p), a factor common to every term pulled out (a b + a c -> a (b + c), a / d -
b / d -> (a - b) / d), and signs normalized: a positive term leads and the others are added
or subtracted (1 - 2 sigmoid(p), never 1 + -2 sigmoid(p); b - a, never -a + b).

Subtrees are already in normal form when their parent is visited (the rewriter works bottom
up), so a node only needs its children's forms; the flattening is bounded (MAX_TERMS) so a
long chain never costs quadratic time.
"""
from __future__ import annotations

from math import copysign
from operator import attrgetter

from ..graph import _NO_ATTRS, Node, make
from ..patterns import const_value
from .. import api as F
from .. import dtypes as dt

MAX_TERMS = 6
_make = Node._make     # make(op, a, b) without packing arguments (these run per node)
_PRODUCT_OPS = frozenset({"multiply", "divide", "negative"})
_SUM_OPS = frozenset({"add", "subtract", "negative"})


def scalar(node):
    """The value of a constant with one element (seen through broadcasts), else None."""
    if node.op not in _CONSTANT_OPS:
        return None
    got = _SCALARS.get(node, _UNKNOWN)
    if got is _UNKNOWN:
        v = const_value(node)
        got = None if v is None or v.size != 1 or v.dtype.kind != "f" and \
            v.dtype.kind not in "iu" else float(v.reshape(()))
        if len(_SCALARS) > 4096:
            _SCALARS.clear()
        _SCALARS[node] = got
    return got


_SCALARS: dict = {}    # constant node -> scalar(node) (graphs repeat a few constants)
_UNKNOWN = object()


_CONSTANT_OPS = frozenset({"constant", "broadcast_to"})
_op_of = attrgetter("op")
_FLOATS = frozenset(dt.FLOATS)         # the dtypes whose sums and products get normal forms




class _Monomial:
    """coef * prod(nums) / prod(dens); nums and dens are tuples (monomials are shared). No
    __init__, so _Monomial() is the cheapest way to make one (monomials are made per node)."""
    __slots__ = ("coef", "nums", "dens")

    @property
    def key(self):
        return self.nums, self.dens          # (nodes hash and compare by identity)

    def scaled(self, s):
        return _mono(self.coef * s, self.nums, self.dens)


class Monomial(_Monomial):
    """A monomial from any sequences of factors (the rules' _mono takes tuples only)."""
    __slots__ = ()

    def __init__(self, coef, nums, dens):
        self.coef, self.nums, self.dens = coef, tuple(nums), tuple(dens)


def _mono(coef, nums, dens):
    """Monomial(coef, nums, dens) for nums and dens that are tuples already, without the
    class call's __init__ frame."""
    m = _Monomial()
    m.coef, m.nums, m.dens = coef, nums, dens
    return m


# node -> value: a plain dict is several times faster than a weak one (it holds the node);
# cleared when it grows past MEMO_LIMIT, and when a simplify ends with more than MEMO_KEPT.
_MONOMIALS: dict = {}
_TERMS: dict = {}
MEMO_LIMIT = 500_000
MEMO_KEPT = 4096     # what small graphs' simplify calls share (a loss, then its gradient)


def clear_memos():
    """Forget the monomials, terms and factor tuples seen once they number more than
    MEMO_KEPT: they hold their nodes alive (and a large graph's would only cost the cycle
    collector a pass over them)."""
    if len(_MONOMIALS) + len(_TERMS) + len(_UNSPREAD) + len(_FIXED) <= MEMO_KEPT:
        return
    _MONOMIALS.clear()
    _TERMS.clear()
    _UNSPREAD.clear()
    _FIXED.clear()


def _memoized(node, memo, parts, combine):
    """memo[node] = combine(node, [memo[child] for child in parts(node)]), children first and
    without recursion (products and sums can be 10,000 deep)."""
    got = memo.get(node)
    if got is not None:
        return got
    if len(memo) > MEMO_LIMIT:
        memo.clear()
    ps, kids = parts(node), []
    for k in ps:                  # the common case, children known or leaves, without a stack
        got = memo.get(k)
        if got is None:
            if parts(k):
                break
            got = memo[k] = combine(k, ())
        kids.append(got)
    else:
        got = memo[node] = combine(node, kids)
        return got
    stack = [(node, ps)]
    while stack:
        n, ps = stack[-1]
        kids = []
        for k in ps:
            got = memo.get(k)
            if got is None:
                below = parts(k)
                if below:
                    stack.append((k, below))
                    break
                got = memo[k] = combine(k, ())
            kids.append(got)
        else:
            stack.pop()
            got = memo[n] = combine(n, kids)
    return got                    # node's, the last one made (the memo may be cleared meanwhile)


def _leaf_monomial(n):
    """The monomial of a node that is not a product: c for a scalar constant, else 1 * n."""
    c = scalar(n)
    return _mono(1.0, (n,), ()) if c is None else _mono(c, (), ())


def _combine_product(n, kids):
    """The monomial of product n from its inputs' monomials."""
    if n.op == "negative":
        return kids[0].scaled(-1.0)
    a, b = kids
    if n.op == "divide":
        if b.coef == 0.0 or b.coef != b.coef:
            return _mono(1.0, (n,), ())
        coef, nums, dens = a.coef / b.coef, a.nums + b.dens, a.dens + b.nums
    else:
        coef, nums, dens = a.coef * b.coef, a.nums + b.nums, a.dens + b.dens
    if len(nums) + len(dens) > MAX_TERMS:
        return _mono(1.0, (n,), ())
    if not dens:
        for f in nums:
            if f.op == "sign":
                break
        else:
            return _mono(coef, nums, dens)     # what _cancelled would give back
    return _cancelled(_mono(coef, nums, dens))


def monomial(node):
    """node as coef * prod(nums) / prod(dens) (memoized; a product of more than MAX_TERMS
    factors is one opaque factor, so long chains stay linear)."""
    memo = _MONOMIALS
    got = memo.get(node)
    if got is not None:
        return got
    if node.op not in _PRODUCT_OPS or node.dtype not in _FLOATS:  # (never a constant)
        got = memo[node] = _leaf_monomial(node)
        return got
    if len(memo) > MEMO_LIMIT:
        memo.clear()
    stack = [node]                 # the products below, children first, without recursion
    while stack:
        n = stack[-1]
        kids = []
        for k in n.inputs:
            got = memo.get(k)
            if got is None:
                if k.op in _PRODUCT_OPS and k.dtype in _FLOATS:
                    stack.append(k)
                    break
                got = memo[k] = _leaf_monomial(k)
            kids.append(got)
        else:
            stack.pop()
            got = memo[n] = _combine_product(n, kids)
    return got                    # node's, the last one made (the memo may be cleared meanwhile)


def _sum_parts(n):
    return n.inputs if n.op in _SUM_OPS and n.dtype in _FLOATS else ()


def _combine_sum(n, kids):
    if not kids:
        if n.op not in _PRODUCT_OPS and scalar(n) is None:
            return (_mono(1.0, (n,), ()),)     # a plain factor: no product memo needed
        return (monomial(n),)
    if n.op == "negative":
        out = tuple(m.scaled(-1.0) for m in kids[0])
    elif n.op == "subtract":
        out = kids[0] + tuple(m.scaled(-1.0) for m in kids[1])
    else:
        out = kids[0] + kids[1]
    return out if len(out) <= MAX_TERMS else (_mono(1.0, (n,), ()),)


def terms(node):
    """The signed monomials of a sum, first seen first (memoized; a sum of more than
    MAX_TERMS terms is one opaque term)."""
    got = _TERMS.get(node)
    return got if got is not None else _memoized(node, _TERMS, _sum_parts, _combine_sum)


def _opaque(node, m):
    return len(m.nums) == 1 and not m.dens and m.nums[0] is node and m.coef == 1.0


def _cancelled(m):
    """x / x -> 1 for each factor both above and below (x != 0), odd functions paired."""
    if not m.dens and "sign" not in map(_op_of, m.nums):
        return m
    nums, dens = list(m.nums), []
    for d in m.dens:
        hit = next((i for i, x in enumerate(nums) if x is d), None)
        if hit is None:
            dens.append(d)
        else:
            nums.pop(hit)
    return Monomial(m.coef, _paired(nums), dens)


def _distributed(m):
    """A sum factor multiplied out when every one of its terms then loses a divisor:
    ((1 - z) / s' - z / s) s s' -> (1 - z) s - z s'. None when that does not happen."""
    if len(m.nums) < 2 or m.nums in _UNSPREAD:
        return None
    for i, f in enumerate(m.nums):
        if f.op not in ("add", "subtract") or f.dtype not in _FLOATS or \
                not _first_term_has_divisor(f):
            continue
        ts = terms(f)
        if not ts[0].dens or not all(t.dens for t in ts):
            continue
        others = m.nums[:i] + m.nums[i + 1:]
        if len(ts) < 2 or not all(any(any(d is o for o in others) for d in t.dens)
                                  for t in ts):
            continue
        return [_cancelled(Monomial(m.coef * t.coef, t.nums + others, t.dens + m.dens))
                for t in ts]
    if len(_UNSPREAD) > MEMO_LIMIT:
        _UNSPREAD.clear()
    _UNSPREAD[m.nums] = True
    return None


# factor tuples no sum among them is multiplied out of (whether one is depends on the factors
# alone): P * c, then c * P, ask about the same tuple
_UNSPREAD: dict = {}


def _first_term_has_divisor(f):
    """Whether terms(f)[0] may have a divisor, judged by the sum's leftmost operand alone
    (terms(f) not computed: only a product can have one)."""
    while f.op in _SUM_OPS and f.dtype in _FLOATS:
        f = f.inputs[0]
    return f.op in ("multiply", "divide") and f.dtype in _FLOATS and bool(monomial(f).dens)


# f(|x|) sign(x) = f(x) for an odd f with f(0) = 0
_ODD = {"abs": lambda x, n: x, "tanh": lambda x, n: F.tanh(x)}


def _odd_of_abs(n):
    """(x, rebuild) when n is f(|x|) for an odd f, else None."""
    if n.op in _ODD and n.inputs and n.inputs[0].op == "abs":
        return n.inputs[0].inputs[0], _ODD[n.op]
    if n.op == "abs":
        return n.inputs[0], _ODD["abs"]
    if n.op == "minimum" and n.inputs[0].op == "abs":
        k = scalar(n.inputs[1])
        if k is not None and k >= 0:
            return n.inputs[0].inputs[0], lambda x, n=n: F.clip(x, -k, k)
    return None


def _paired(nums):
    """Pair each sign(x) with an odd f(|x|) among the factors: f(|x|) sign(x) -> f(x)."""
    if not any(n.op == "sign" for n in nums):
        return nums
    out = list(nums)
    for s in [n for n in nums if n.op == "sign"]:
        x = s.inputs[0]
        for i, n in enumerate(out):
            hit = _odd_of_abs(n) if n is not s else None
            if hit is not None and hit[0] is x and s in out:
                out[i] = hit[1](x, n)
                out.remove(s)
                break
    return out


_CONSTANTS: dict = {}


def _const(k):
    """A scalar constant node, kept for reuse (coefficients repeat across a graph). 0.0 and
    -0.0 are one dict key but two constants: a zero is kept under its sign as well."""
    key = k if k else (k, copysign(1.0, k))
    node = _CONSTANTS.get(key)
    if node is None:
        if len(_CONSTANTS) > 1024:
            _CONSTANTS.clear()
        node = _CONSTANTS[key] = F.constant(k)
    return node


def _product(nodes):
    out = nodes[0]
    for n in nodes[1:]:
        out = _make("multiply", (out, n), _NO_ATTRS)
    return out


def _inverse_int(k):
    """m when k == 1 / m for an integer m >= 2, else None."""
    if not 2.0 ** -52 <= abs(k) < 1:      # also nan, and 1 / k past 2^52 (not an int)
        return None
    m = round(1.0 / k)
    return m if m >= 2 and 1.0 / m == k else None


def build_monomial(m, near=None):
    """The node for coef * prod(nums) / prod(dens), written as a person would: 2 p / N,
    -(x / 4), -2 sigmoid(x); near: a node that may be prod(nums) already (looked at first)."""
    k, nums, dens = m.coef, m.nums, m.dens
    if k == 0 or not nums and not dens:
        return _const(k)
    neg = k < 0 and (k == -1 or _inverse_int(-k) is not None)
    k = -k if neg else k
    inv = None if k == 1.0 else _inverse_int(k)
    if inv is not None:
        dens = (_const(float(inv)),) + dens
        k = 1.0
    if nums:
        out = near if near is not None and _is_product(nums, near) else _product(nums)
        if k != 1.0:
            out = _make("multiply", (_const(k), out), _NO_ATTRS)
    else:
        out = _const(k)
    if dens:
        out = _make("divide", (out, _product(dens)), _NO_ATTRS)
    return _make("negative", (out,), _NO_ATTRS) if neg else out


def _is_product(nodes, node):
    """node is _product(nodes) (the left-nested chain), judged without building it."""
    for f in reversed(nodes[1:]):
        if node.op != "multiply" or node.inputs[1] is not f:
            return False
        node = node.inputs[0]
    return node is nodes[0]


def builds_to(m, node):
    """build_monomial(m) is node, judged without building (a normal product's rebuild would
    only look up nodes that exist); mirrors build_monomial step by step."""
    k, nums, dens = m.coef, m.nums, m.dens
    if k == 0 or not nums and not dens:
        return node is _const(k)
    neg = k < 0 and (k == -1 or _inverse_int(-k) is not None)
    if neg:
        if node.op != "negative":
            return False
        k, node = -k, node.inputs[0]
    inv = None if k == 1.0 else _inverse_int(k)
    if inv is not None:
        dens = (_const(float(inv)),) + dens
        k = 1.0
    if dens:
        if node.op != "divide" or not _is_product(dens, node.inputs[1]):
            return False
        node = node.inputs[0]
    if not nums:
        return node is _const(k)
    if k != 1.0:
        if node.op != "multiply" or node.inputs[0] is not _const(k):
            return False
        node = node.inputs[1]
    return _is_product(nums, node)


def product_needs_work(node):
    """Whether a product whose children are in normal form may itself not be: a cheap test
    that keeps long chains linear (the rebuild is idempotent, so a false yes is harmless)."""
    if node.op == "divide":
        return True
    a, b = node.inputs
    if b.op in _PRODUCT_OPS or b.op == "sign" or b.op in _CONSTANT_OPS and scalar(b) is not None:
        return True
    if a.op in ("negative", "divide"):
        return True
    if a.op != "multiply":
        return False
    return a.inputs[1].op == "sign" or a.inputs[0].op in _CONSTANT_OPS and \
        scalar(a.inputs[0]) is not None


_ADD_SUB = frozenset({"add", "subtract"})


def _has_quotient_term(node):
    """node is a sum with a quotient among its terms (looked for through the sum's own
    add / subtract / negative nodes only): a product with it may cancel a divisor."""
    if node.op not in ("add", "subtract"):
        return False
    stack, seen = [node], 0
    while stack and seen < MAX_TERMS:
        n = stack.pop()
        seen += 1
        if n.op in _SUM_OPS:
            stack.extend(n.inputs)
        elif n.op == "divide" or n.op == "multiply" and (n.inputs[0].op == "divide" or
                                                         n.inputs[1].op == "divide"):
            return True
    return False


def normal_product(node):
    """The product rule: the normal form of a multiply / divide node, or None."""
    if node.dtype not in _FLOATS or node in _FIXED:
        return None
    work = product_needs_work(node)
    a, b = node.inputs
    if not work and not (a.op in _ADD_SUB and _has_quotient_term(a)) and \
            not (b.op in _ADD_SUB and _has_quotient_term(b)):
        return None
    if a.op not in _PRODUCT_OPS and a.op != "sign" and scalar(a) is None:
        c = scalar(b)          # the common cases, a plain factor and a scalar, without the
        if c is not None and c not in (0.0, 1.0, -1.0) and c == c:      # machinery
            inv = _inverse_int(abs(c))
            if node.op == "multiply":       # a * c -> c a; a * (1 / m) -> a / m
                if inv is None:
                    return _fixed(_make("multiply", (_const(c), a), _NO_ATTRS),
                                  _mono(c, (a,), ()))
                out = _make("divide", (a, _const(float(inv))), _NO_ATTRS)
                return _make("negative", (out,), _NO_ATTRS) if c < 0 else out
            m = _inverse_int(1.0 / c) if c > 0 else None
            if m is not None and b is _const(float(m)):
                return None                 # a / m is normal
    m = monomial(node) if type(node) is Node else _combine_product(node, (monomial(a),
                                                                           monomial(b)))
    if _opaque(node, m):
        return None
    spread = _distributed(m)
    if spread is not None:
        return build_sum(_collect(spread))
    if not work or builds_to(m, node):
        return None
    out = build_monomial(m, a)
    if out.op == "multiply" and out.inputs[1] is a and out.inputs[0] is _const(m.coef) and \
            _is_product(m.nums, a):
        for f in m.nums:           # (a loop: a generator's every step is a frame resumed)
            if not _plain_factor(f):
                return out
        return _fixed(out, m)      # k * prod(nums), a = prod(nums): out's monomial is m
    return out


def _plain_factor(f):
    """monomial(f) is 1 * f, and f pairs with no other factor (not a sign)."""
    return f.op not in _PRODUCT_OPS and f.op != "sign" or f.op != "sign" and \
        _opaque(f, monomial(f))


# product nodes normal_product made as k * prod(nums) of plain factors: their monomial is the
# one they were built from, so the rule would give them back as they are
_FIXED: dict = {}


def _fixed(out, m):
    """out, built from monomial m as k * prod(nums): m memoized for it, and out marked as a
    node normal_product leaves alone (its rebuild from m is out itself)."""
    if len(_FIXED) > MEMO_LIMIT:
        _FIXED.clear()
    _MONOMIALS[out] = m
    _FIXED[out] = True
    return out


def _collect(ms):
    """Like terms summed (same factors above and below), zero terms dropped."""
    by_key = {}
    for m in ms:
        key = m.nums, m.dens       # m.key, without the property's call
        prev = by_key.get(key)
        if prev is None:
            by_key[key] = _mono(m.coef, m.nums, m.dens)
        else:
            prev.coef += m.coef
    return [m for m in by_key.values() if m.coef != 0.0 or m.coef != m.coef]


def _common(lists):
    """Nodes present in every list (by identity, with multiplicity)."""
    common = list(lists[0])
    for other in lists[1:]:
        if not common or set(common).isdisjoint(other):
            return []
        rest, keep = list(other), []
        for n in common:
            for i, r in enumerate(rest):
                if r is n:
                    keep.append(n)
                    del rest[i]
                    break
        common = keep
    return common


def _without(nodes, remove):
    """nodes less one occurrence (by identity) of each node of remove, which all occur."""
    out = list(nodes)
    for r in remove:
        for i, n in enumerate(out):
            if n is r:
                del out[i]
                break
    return out


def build_sum(ms):
    """A sum of monomials: common factors pulled out, a positive term first."""
    if not ms:
        return F.constant(0.0)
    if len(ms) == 1:
        return build_monomial(ms[0])
    return _build_pair(*ms) if len(ms) == 2 else _build_terms(ms)


def _build_terms(ms):
    """build_sum of two or more monomials."""
    up, down = _common([m.nums for m in ms]), _common([m.dens for m in ms])
    coefs = {abs(m.coef) for m in ms}
    g = coefs.pop() if len(coefs) == 1 else 1.0
    if all(m.coef < 0 for m in ms):
        g = -g
    if up or down or g != 1.0:
        inner = build_sum([Monomial(m.coef / g, _without(m.nums, up), _without(m.dens, down))
                           for m in ms])
        return build_monomial(Monomial(g, up + [inner], down))
    lead = next((m for m in ms if m.coef > 0), ms[0])   # nan coefficients: keep the order
    return _chain(lead, ms)


def _build_pair(m0, m1):
    """build_sum([m0, m1]), spelled out for two terms (the common case)."""
    up = _common((m0.nums, m1.nums)) if m0.nums and m1.nums else []
    down = _common((m0.dens, m1.dens)) if m0.dens and m1.dens else []
    a0, a1 = abs(m0.coef), abs(m1.coef)
    g = a0 if a0 == a1 else 1.0          # ({a0, a1} of one element: nan is two)
    if m0.coef < 0 and m1.coef < 0:
        g = -g
    if up or down or g != 1.0:
        inner = _build_pair(
            _mono(m0.coef / g, tuple(_without(m0.nums, up)), tuple(_without(m0.dens, down))),
            _mono(m1.coef / g, tuple(_without(m1.nums, up)), tuple(_without(m1.dens, down))))
        return build_monomial(_mono(g, (*up, inner), tuple(down)))
    lead = m0 if m0.coef > 0 else m1 if m1.coef > 0 else m0
    return _chain(lead, (m0, m1))


def _chain(lead, ms):
    """lead, then every other term of ms added (positive coefficient) or subtracted."""
    out = build_monomial(lead)
    for m in ms:
        if m is lead:
            continue
        if m.coef > 0:
            out = _make("add", (out, build_monomial(m)), _NO_ATTRS)
        else:
            out = _make("subtract", (out, build_monomial(_mono(-m.coef, m.nums, m.dens))),
                        _NO_ATTRS)
    return out


def normal_sum(node):
    """The sum rule: the normal form of an add / subtract / negative node, or None."""
    if node.dtype not in _FLOATS or _plain_pair(node):
        return None
    if node.op == "negative" and node.inputs[0].op not in _PLAIN_FREE:
        return None                         # -f of a plain factor f is normal
    a = node.inputs[0]
    if node.op != "negative" and a.op not in _SUM_OPS and node.inputs[1].op not in _SUM_OPS:
        ts = _binary_terms(node)             # terms(node), without the memo walk
        if _binary_is_normal(node, ts):
            return None
    else:
        ts = terms(node) if type(node) is Node else _combine_sum(node, [terms(i) for i in
                                                                         node.inputs])
        if len(ts) == 1 and _opaque(node, ts[0]):
            return None
    return build_sum(_collect(ts))


class Pending:
    """op(*inputs), not built yet, as the normal-form rules read a node (op, inputs, dtype;
    no attrs): the rewriter asks them about a node before building it, which their answer
    would only replace. Its monomial and terms are not memoized (it is dropped at once)."""
    __slots__ = ("op", "inputs", "dtype")


def normal_product_of(node, inputs):
    """normal_product of node's op over inputs (node's dtype), the node not built."""
    p = Pending()           # (it has no __init__: no frame per node)
    p.op, p.inputs, p.dtype = node.op, inputs, node.dtype
    return normal_product(p)


def normal_sum_of(node, inputs):
    """normal_sum of node's op over inputs (node's dtype), the node not built."""
    p = Pending()
    p.op, p.inputs, p.dtype = node.op, inputs, node.dtype
    return normal_sum(p)


def _leaf_terms(n):
    """terms(n) for a node that is not a sum (one monomial)."""
    if n.op not in _PRODUCT_OPS and scalar(n) is None:
        return _mono(1.0, (n,), ())
    return monomial(n)


def _binary_terms(node):
    """terms(node) for a + b or a - b of two non-sums: their two monomials, signed."""
    a, b = node.inputs
    t1 = _leaf_terms(b)
    return _leaf_terms(a), t1 if node.op == "add" else t1.scaled(-1.0)


_PLAIN_FREE = _SUM_OPS | _PRODUCT_OPS | {"constant", "broadcast_to"}


def _plain_pair(node):
    """a + b or a - b of two different factors that are neither sums, products nor
    constants: already normal, known without looking further."""
    if node.op == "negative":
        return False
    a, b = node.inputs
    return a is not b and a.op not in _PLAIN_FREE and b.op not in _PLAIN_FREE


def _same(a, b):
    """Tuples of the same nodes in the same order (==, without a Node's rich comparison,
    which Python dispatches through Node's own comparison operators)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y:
            return False
    return True


def _binary_is_normal(node, ts):
    """a + b or a - b of two normal non-sum terms ts, nothing to collect or pull out: the
    rebuild would give node back (the common case, checked without building)."""
    t0, t1 = ts
    if t0.coef <= 0 or (t1.coef > 0) != (node.op == "add") or (   # same factors (nodes
            _same(t0.nums, t1.nums) and _same(t0.dens, t1.dens)):     # compare by identity)
        return False
    if abs(t0.coef) == abs(t1.coef) != 1.0:
        return False
    n0, n1, d0, d1 = t0.nums, t1.nums, t0.dens, t1.dens    # no factor in both (by identity)
    if n0 and n1 and (n0[0] is n1[0] or len(n1) > 1 and n0[0] is n1[1] if len(n0) == 1 and
                      len(n1) <= 2 else not set(n0).isdisjoint(n1)):
        return False
    return not d0 or not d1 or set(d0).isdisjoint(d1)


def negates(a, b):
    """b == -a as sums of monomials (-(x - z) reads z - x in normal form)."""
    if a is b or not (a.dtype in _FLOATS and b.dtype in _FLOATS):
        return False
    ta, tb = _collect(terms(a)), _collect(terms(b))
    if len(ta) != len(tb):
        return False
    by_key = {m.key: m.coef for m in tb}
    return all(by_key.get(m.key) == -m.coef for m in ta)


def pull_linear(node):
    """op(c x / d) -> c op(x) / d for an op linear in its one input (sum, reshape,
    broadcast_to, transpose) and scalar c, d: coefficients stay outside, where they cancel."""
    x = node.inputs[0]
    if x.dtype not in _FLOATS or x.op not in _PRODUCT_OPS:
        return None
    m = monomial(x)
    scalars = [d for d in m.dens if d.shape == ()]
    rest = [d for d in m.dens if d.shape != ()]
    if (m.coef == 1.0 and not scalars) or not (m.nums or rest):
        return None     # nothing to pull, or only a constant would stay inside
    inner = build_monomial(Monomial(1.0, m.nums, rest))
    try:
        moved = make(node.op, inner if inner.shape == x.shape else
                     F.broadcast_to(inner, x.shape), **node.attrs)
    except Exception:  # the inner part no longer has the operand's shape: leave it
        return None
    return build_monomial(Monomial(m.coef, [moved], scalars))
