"""The rewrite rules, as data: pattern -> builder, grouped in phases (one module each).

fold       constant subgraphs become constants
algebra    identities: x + 0, x * 1, --x, x - x, log(exp x), |x| for x >= 0, decided
           comparisons and wheres, known conditions inside a where's branches
stability  numerically safe forms: log(sigmoid x) -> -softplus(-x), log(softmax) ->
           log_softmax, log(1 + x) -> log1p(x), log(sum(exp x)) -> logsumexp(x), ...
tidy       forms that read like the textbook: sums and products in one normal form (like
           terms, one coefficient, a - b), divisors collected, where branches merged

Importing this package registers every rule; at a node, rules are tried in this order.
"""
from . import fold, algebra, where, stability, tidy  # noqa: F401  (registration)
