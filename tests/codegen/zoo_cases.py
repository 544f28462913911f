"""Every flavour of every zoo loss as a compile case: (id, build(*nodes) -> Node, argument
makers (rng -> array)). Shapes are small (N = 5 samples, C = 4 classes), so every case compiles
and runs in milliseconds. `EXTREME` swaps the makers for edge values: logits of +-1e4,
probabilities of exactly 0 and 1, all-zero weights and masks; `SPECIAL` makes the reals large
(90 x) with +inf, -inf and nan entries."""
import importlib
import importlib.util

import numpy as np

import zoo
from zoo import axon, mxnet as mx, tensorlayer as tl, tf, tflearn

N, C, T, S = 5, 4, 6, 3


def real(*shape):
    return lambda rng: rng.normal(size=shape)


def prob(*shape):
    return lambda rng: rng.uniform(0.05, 0.95, size=shape)


def binary(*shape):
    return lambda rng: (rng.random(shape) > 0.5).astype(np.float64)


def signs(*shape):
    return lambda rng: np.where(rng.random(shape) > 0.5, 1.0, -1.0)


def labels(*shape, classes=C):
    return lambda rng: rng.integers(0, classes, size=shape)


def onehot(*shape):
    return lambda rng: np.eye(C)[rng.integers(0, C, size=shape)]


def simplex(*shape):
    def make(rng):
        p = rng.uniform(0.05, 1.0, size=shape)
        return p / p.sum(axis=-1, keepdims=True)
    return make


def positive(*shape):
    return lambda rng: rng.uniform(0.1, 3.0, size=shape)


def log_probs(*shape):
    def make(rng):
        x = rng.normal(size=shape)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return make


def const(value):
    return lambda rng: np.array(value)


def zeros(*shape):
    return lambda rng: np.zeros(shape)


RC, PC, BC = real(N, C), prob(N, C), binary(N, C)
CTC_LABELS = np.array([[1, 2, 2], [3, 1, 0], [2, 0, 0], [1, 3, 1], [2, 2, 0]])
CTC_LENGTHS = np.array([3, 2, 1, 3, 2])
MX_CTC_LABELS = np.array([[1, 0, -1, -1], [2, 1, 1, -1], [0, 1, 0, 2]])   # -1 pads

CASES = [
    # TensorLayer
    ("tl.cross_entropy", tl.cross_entropy, [RC, labels(N)]),
    ("tl.sigmoid_cross_entropy", tl.sigmoid_cross_entropy, [RC, BC]),
    ("tl.binary_cross_entropy", tl.binary_cross_entropy, [PC, BC]),
    ("tl.mean_squared_error", tl.mean_squared_error, [RC, RC]),
    ("tl.mean_squared_error-mean", lambda o, t: tl.mean_squared_error(o, t, is_mean=True),
     [RC, RC]),
    ("tl.normalized_mean_square_error", tl.normalized_mean_square_error, [RC, RC]),
    ("tl.absolute_difference_error", tl.absolute_difference_error, [RC, RC]),
    ("tl.dice_coe", tl.dice_coe, [prob(2, 3, 3, 2), binary(2, 3, 3, 2)]),
    ("tl.dice_hard_coe", tl.dice_hard_coe, [prob(2, 3, 3, 2), binary(2, 3, 3, 2)]),
    ("tl.iou_coe", tl.iou_coe, [prob(2, 3, 3, 2), binary(2, 3, 3, 2)]),
    ("tl.cross_entropy_seq", tl.cross_entropy_seq, [real(2 * 3, C), labels(2, 3)]),
    ("tl.cross_entropy_seq_with_mask", tl.cross_entropy_seq_with_mask,
     [real(2 * 3, C), labels(2, 3), binary(2, 3)]),
    ("tl.cosine_similarity", tl.cosine_similarity, [RC, RC]),
    ("tl.li_regularizer", lambda w: tl.li_regularizer(0.1)(w), [RC]),
    ("tl.lo_regularizer", lambda w: tl.lo_regularizer(0.1)(w), [RC]),
    ("tl.maxnorm_regularizer", lambda w: tl.maxnorm_regularizer(0.5)(w), [RC]),
    ("tl.maxnorm_o_regularizer", lambda w: tl.maxnorm_o_regularizer(0.5)(w), [RC]),
    ("tl.maxnorm_i_regularizer", lambda w: tl.maxnorm_i_regularizer(0.5)(w), [RC]),
    ("tl.huber_loss", tl.huber_loss, [RC, RC]),
    ("tl.huber_loss-berhu", lambda o, t: tl.huber_loss(o, t, reverse=True), [RC, RC]),
    # TensorFlow contrib
    ("tf.absolute_difference", tf.absolute_difference, [RC, RC]),
    ("tf.hinge_loss", tf.hinge_loss, [RC, BC]),
    ("tf.cosine_distance", lambda p, l: tf.cosine_distance(p, l, axis=1), [RC, RC]),
    ("tf.log_loss", tf.log_loss, [PC, BC]),
    ("tf.mean_pairwise_squared_error", tf.mean_pairwise_squared_error, [RC, RC]),
    ("tf.sum_of_pairwise_squares", tf.sum_of_pairwise_squares, [RC, RC]),
    ("tf.mean_squared_error", tf.mean_squared_error, [RC, RC]),
    ("tf.mean_squared_error-weights", lambda p, l, w: tf.mean_squared_error(p, l, weights=w),
     [RC, RC, binary(N, 1)]),
    ("tf.sum_of_squares", tf.sum_of_squares, [RC, RC]),
    ("tf.sigmoid_cross_entropy", tf.sigmoid_cross_entropy, [RC, BC]),
    ("tf.softmax_cross_entropy", tf.softmax_cross_entropy, [RC, onehot(N)]),
    ("tf.sparse_softmax_cross_entropy", tf.sparse_softmax_cross_entropy, [RC, labels(N)]),
    # MXNet Gluon
    ("mx.L2Loss", mx.L2Loss(), [RC, RC]),
    ("mx.L1Loss", mx.L1Loss(), [RC, RC]),
    ("mx.SigmoidBinaryCrossEntropyLoss", mx.SigmoidBinaryCrossEntropyLoss(), [RC, BC]),
    ("mx.SigmoidBCELoss-from_sigmoid", mx.SigmoidBCELoss(from_sigmoid=True), [PC, BC]),
    ("mx.SoftmaxCrossEntropyLoss", mx.SoftmaxCrossEntropyLoss(), [RC, labels(N)]),
    ("mx.SoftmaxCELoss-dense", mx.SoftmaxCELoss(sparse_label=False), [RC, onehot(N)]),
    ("mx.KLDivLoss", mx.KLDivLoss(), [log_probs(N, C), simplex(N, C)]),
    ("mx.CTCLoss", mx.CTCLoss(), [real(3, 5, C), const(MX_CTC_LABELS)]),  # blank = C - 1
    ("mx.HuberLoss", mx.HuberLoss(), [RC, RC]),
    ("mx.HingeLoss", mx.HingeLoss(), [RC, signs(N, C)]),
    ("mx.SquaredHingeLoss", mx.SquaredHingeLoss(), [RC, signs(N, C)]),
    ("mx.LogisticLoss", mx.LogisticLoss(), [RC, signs(N, C)]),
    ("mx.TripletLoss", mx.TripletLoss(), [RC, RC, RC]),
    ("mx.L2Loss-sample_weight", lambda p, l, w: mx.L2Loss()(p, l, w), [RC, RC, binary(N, 1)]),
    # TFLearn
    ("tflearn.softmax_categorical_crossentropy", tflearn.softmax_categorical_crossentropy,
     [RC, onehot(N)]),
    ("tflearn.categorical_crossentropy", tflearn.categorical_crossentropy,
     [simplex(N, C), onehot(N)]),
    ("tflearn.binary_crossentropy", tflearn.binary_crossentropy, [RC, BC]),
    ("tflearn.weighted_crossentropy", lambda p, t: tflearn.weighted_crossentropy(p, t, 2.0),
     [RC, BC]),
    ("tflearn.mean_square", tflearn.mean_square, [RC, RC]),
    ("tflearn.hinge_loss", tflearn.hinge_loss, [RC, BC]),
    ("tflearn.roc_auc_score", tflearn.roc_auc_score, [prob(N), binary(N)]),
    ("tflearn.weak_cross_entropy_2d", tflearn.weak_cross_entropy_2d,
     [real(2, 3, 2, C), onehot(2, 3, 2)]),
    ("tflearn.contrastive_loss", tflearn.contrastive_loss, [positive(N), binary(N)]),
    ("tflearn.triplet_loss", tflearn.triplet_loss, [RC, RC, RC]),
    ("tflearn.L2", tflearn.L2, [RC]),
    ("tflearn.L1", tflearn.L1, [RC]),
    # Axon
    ("axon.binary_cross_entropy", axon.binary_cross_entropy, [BC, PC]),
    ("axon.binary_cross_entropy-logits",
     lambda t, p: axon.binary_cross_entropy(t, p, from_logits=True), [BC, RC]),
    ("axon.categorical_cross_entropy", axon.categorical_cross_entropy, [onehot(N), simplex(N, C)]),
    ("axon.categorical_cross_entropy-sparse-logits",
     lambda t, p: axon.categorical_cross_entropy(t, p, sparse=True, from_logits=True),
     [labels(N, 1), RC]),
    ("axon.categorical_hinge", axon.categorical_hinge, [onehot(N), RC]),
    ("axon.connectionist_temporal_classification",
     lambda n, y, p: axon.connectionist_temporal_classification((n, y), p),
     [const(CTC_LENGTHS), const(CTC_LABELS), log_probs(N, T, C)]),
    ("axon.cosine_similarity", axon.cosine_similarity, [RC, RC]),
    ("axon.hinge", axon.hinge, [signs(N, C), RC]),
    ("axon.kl_divergence", axon.kl_divergence, [simplex(N, C), simplex(N, C)]),
    ("axon.log_cosh", axon.log_cosh, [RC, RC]),
    ("axon.margin_ranking", lambda y, a, b: axon.margin_ranking(y, (a, b)),
     [signs(N), real(N), real(N)]),
    ("axon.mean_absolute_error", axon.mean_absolute_error, [RC, RC]),
    ("axon.mean_squared_error", axon.mean_squared_error, [RC, RC]),
    ("axon.poisson", axon.poisson, [positive(N, C), positive(N, C)]),
    ("axon.soft_margin", axon.soft_margin, [signs(N, C), RC]),
]


def _torch_cases(F):
    """PyTorch's torch.nn.functional flavour (zoo.torch), when it is present."""
    ints = labels(N)
    return [
        ("torch.l1_loss", F.l1_loss, [RC, RC]),
        ("torch.mse_loss", F.mse_loss, [RC, RC]),
        ("torch.smooth_l1_loss", F.smooth_l1_loss, [RC, RC]),
        ("torch.huber_loss", F.huber_loss, [RC, RC]),
        ("torch.binary_cross_entropy", F.binary_cross_entropy, [PC, BC]),
        ("torch.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         [RC, BC]),
        ("torch.cross_entropy", F.cross_entropy, [RC, ints]),
        ("torch.nll_loss", F.nll_loss, [log_probs(N, C), ints]),
        ("torch.kl_div", F.kl_div, [log_probs(N, C), simplex(N, C)]),
        ("torch.poisson_nll_loss", F.poisson_nll_loss, [RC, positive(N, C)]),
        ("torch.gaussian_nll_loss", F.gaussian_nll_loss, [RC, RC, positive(N, C)]),
        ("torch.hinge_embedding_loss", F.hinge_embedding_loss, [positive(N, C), signs(N, C)]),
        ("torch.margin_ranking_loss", F.margin_ranking_loss, [real(N), real(N), signs(N)]),
        ("torch.soft_margin_loss", F.soft_margin_loss, [RC, signs(N, C)]),
        ("torch.multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, [RC, BC]),
        ("torch.multilabel_margin_loss", F.multilabel_margin_loss,
         [RC, const(np.array([[1, 0, -1, 0], [2, -1, 0, 0], [0, 1, 2, 3], [3, -1, 1, 1],
                              [-1, 0, 0, 0]]))]),
        ("torch.multi_margin_loss", F.multi_margin_loss, [RC, ints]),
        ("torch.cosine_embedding_loss", F.cosine_embedding_loss, [RC, RC, signs(N)]),
        ("torch.triplet_margin_loss", F.triplet_margin_loss, [RC, RC, RC]),
        ("torch.triplet_margin_with_distance_loss", F.triplet_margin_with_distance_loss,
         [RC, RC, RC]),
        ("torch.ctc_loss", F.ctc_loss, [log_probs(T, N, C), const(CTC_LABELS),
                                        const(np.full(N, T)), const(CTC_LENGTHS)]),
    ]


if importlib.util.find_spec("zoo.torch") is not None:
    CASES += _torch_cases(importlib.import_module("zoo.torch"))


# edge values per maker kind: what each argument becomes in the extreme variant
def _extreme(maker):
    if maker is RC or getattr(maker, "__qualname__", "").startswith("real"):
        def make(rng, base=maker):
            x = base(rng)
            return np.where(rng.random(x.shape) > 0.5, 1e4, -1e4) * np.sign(x + 1e-9)
        return make
    if maker is PC or getattr(maker, "__qualname__", "").startswith("prob"):
        def make(rng, base=maker):
            x = base(rng)
            return np.where(rng.random(x.shape) > 0.5, 1.0, 0.0)
        return make
    if getattr(maker, "__qualname__", "").startswith("binary"):
        def make(rng, base=maker):
            return np.zeros_like(base(rng))       # empty masks, zero weights, all negatives
        return make
    return maker


EXTREME = [(f"{name}-extreme", fn, [_extreme(m) for m in makers]) for name, fn, makers in CASES]


def _special(maker):
    """Reals scaled by 90 (float32's e^x overflows from 88.7), about one entry in seven
    replaced by +inf, -inf or nan: IEEE's propagation through every op and gradient."""
    if maker is RC or getattr(maker, "__qualname__", "").startswith("real"):
        def make(rng, base=maker):
            x = 90.0 * base(rng)
            pick = rng.random(x.shape) < 0.15
            return np.where(pick, rng.choice([np.inf, -np.inf, np.nan], size=x.shape), x)
        return make
    return maker


SPECIAL = [(f"{name}-special", fn, [_special(m) for m in makers]) for name, fn, makers in CASES]


def flavour_functions():
    """(module, name) of every flavour function the catalogue lists (zoo.inventory's flavour
    tables, without building the formulas)."""
    return {(f.module, f.name) for fl in zoo.inventory.flavour_map().values() for f in fl}
