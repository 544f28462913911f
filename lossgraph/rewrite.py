"""Placeholder until the rewriter lands: identity passes."""


def guard_nans(node):
    return node


def simplify(node):
    return node
