"""MXNet Gluon (mxnet.gluon.loss) flavour: loss blocks built with MXNet's constructor
arguments and called as `loss(pred, label, sample_weight=None)`.

Every call returns one value per sample: the element-wise loss is multiplied by
`sample_weight` (NumPy broadcasting) and by the scalar `weight`, then averaged over every axis
except `batch_axis` (zoo.reduction's "batch" mode). `label` is reshaped like `pred` when it
has the same number of elements. Arrays in give arrays out, Nodes in give a Node out
(zoo.dual). See docs/zoo-conventions.md section 3.
"""
from __future__ import annotations

import numbers

import numpy as np

import lossgraph as lg
from lossgraph.names import quote
from lossgraph.shapes import dims_product, fmt_shape

from . import losses as L
from .docstrings import add_raises
from .dual import dual
from .losses import divergence, ranking
from .losses.define import as_float as _float
from .options import NONNEGATIVE, options
from .reduction import reduce

__all__ = ["Loss", "L2Loss", "L1Loss", "SigmoidBinaryCrossEntropyLoss", "SigmoidBCELoss",
           "SoftmaxCrossEntropyLoss", "SoftmaxCELoss", "KLDivLoss", "CTCLoss", "HuberLoss",
           "HingeLoss", "SquaredHingeLoss", "LogisticLoss", "TripletLoss"]

# flavour name -> canonical zoo.losses name(s) (read by zoo.inventory); Loss, the base class,
# is every loss's per-sample weighting and reduction ("batch" mode of zoo.reduction)
CANONICAL = {
    "Loss": (),
    "L2Loss": "squared_error",
    "L1Loss": "absolute_error",
    "SigmoidBinaryCrossEntropyLoss": ("sigmoid_cross_entropy", "log_loss"),
    "SigmoidBCELoss": ("sigmoid_cross_entropy", "log_loss"),
    "SoftmaxCrossEntropyLoss": ("sparse_softmax_cross_entropy", "softmax_cross_entropy"),
    "SoftmaxCELoss": ("sparse_softmax_cross_entropy", "softmax_cross_entropy"),
    "KLDivLoss": "kl_divergence",
    "CTCLoss": "ctc",
    "HuberLoss": "smooth_l1",
    "HingeLoss": "hinge",
    "SquaredHingeLoss": "squared_hinge",
    "LogisticLoss": "logistic",
    "TripletLoss": "triplet",
}

LOG_EPS = 1e-12     # MXNet's epsilon inside the logs of SigmoidBCE(from_sigmoid) and KLDiv

#: the Raises entries every block shares (Loss.__init_subclass__ writes them into each class)
SHARED_RAISES = ("TypeError: an unknown constructor or call keyword.",
                 "OptionError: weight is not a number or None.",
                 "DTypeError: an input array that is not numeric.")
#: the ShapeError of the blocks whose label is reshaped like pred (`raises=RESHAPED`)
RESHAPED = ("ShapeError: label does not have pred's element count (it is reshaped like pred); "
            "sample_weight does not broadcast against the element-wise loss.",)
FORWARD_DOC = """The per-sample losses of the class formula; what calling the block runs (its
        examples and errors are in the class docstring).
        """


def _int(x):
    """Class ids: MXNet labels are often float arrays; values are truncated to int."""
    x = lg.as_node(x)
    return x if x.dtype in ("int", "int32", "int64") else lg.cast(x, "int64")


def _reshape_like(x, pred, arg):
    """MXNet's _reshape_like: x takes pred's shape; the element counts must agree."""
    x = lg.as_node(x)
    if x.shape == pred.shape:
        return x
    if dims_product(x.shape) != dims_product(pred.shape):
        raise lg.ShapeError(f"{arg} has shape {fmt_shape(x.shape)} but pred has shape "
                            f"{fmt_shape(pred.shape)}: {arg} is reshaped like pred, so it "
                            f"needs {dims_product(pred.shape)} elements, not "
                            f"{dims_product(x.shape)}")
    return lg.reshape(x, pred.shape)


class Loss:
    """Base class: l_b = mean_{axes != batch_axis}(loss * sample_weight * weight).

    Source convention: MXNet Gluon Loss(weight, batch_axis): weight must be a number (MXNet
    asserts at call time; here the constructor raises OptionError); sample_weight broadcasts
    against the element-wise loss like NumPy (e.g. (64, 1) weighs each sample of a (64, 10)
    loss).

    Subclasses are called as `loss(pred, label, sample_weight=None)` (`forward`).

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.L1Loss(weight=2.0, batch_axis=0)
        L1Loss(batch_axis=0, w=2.0)

    Raises:
        OptionError: weight is neither a number nor None.
    """

    def __init_subclass__(cls, raises=(), **kwargs):
        """Writes SHARED_RAISES and `raises` into the subclass's Raises section, and the
        common docstring into a `forward` that has none."""
        super().__init_subclass__(**kwargs)
        add_raises(cls, *SHARED_RAISES, *raises)
        forward = cls.__dict__.get("forward")
        if forward is not None and not forward.__doc__:
            forward.__doc__ = FORWARD_DOC

    def __init__(self, weight=None, batch_axis=0, prefix=None, params=None):
        if weight is not None and (isinstance(weight, bool) or
                                   not isinstance(weight, (numbers.Number, np.generic))):
            raise lg.OptionError(f"weight: expected a number or None, got "
                                 f"{type(weight).__name__} {weight!r}")
        self._weight = weight
        self._batch_axis = batch_axis

    def __repr__(self):
        return f"{type(self).__name__}(batch_axis={self._batch_axis}, w={self._weight})"

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _paired(self, canonical, pred, label, sample_weight, weight=None, **options):
        """canonical(pred, label reshaped like pred, **options), then _per_sample."""
        pred = lg.as_node(pred)
        loss = canonical(pred, _float(_reshape_like(label, pred, "label")), **options)
        return self._per_sample(loss, sample_weight, weight)

    def _per_sample(self, loss, sample_weight, weight=None):
        """MXNet's _apply_weighting, then the mean over every non-batch axis."""
        weight = self._weight if weight is None else weight
        if weight is not None:
            loss = loss * weight
        return reduce(loss, reduction="batch", weights=sample_weight,
                      batch_axis=self._batch_axis)


class L2Loss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(1/2 (pred - label)^2 * sample_weight) * weight.

    Source convention: MXNet Gluon L2Loss(weight=1., batch_axis=0): the loss is halved (the
    doc's sum is a mean); weight=None counts as 1 (MXNet fails on None / 2).

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.L2Loss()(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]))
        array([1.25, 0.5 ])
    """

    def __init__(self, weight=1., batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        half = (1.0 if self._weight is None else self._weight) / 2
        return self._paired(L.squared_error, pred, label, sample_weight, weight=half)


class L1Loss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(|pred - label| * sample_weight) * weight.

    Source convention: MXNet Gluon L1Loss(weight=None, batch_axis=0).

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.L1Loss()(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [1.0, 1.0]]),
        ...             sample_weight=np.array([[1.0], [0.0]]))
        array([1.5, 0. ])
    """

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        return self._paired(L.absolute_error, pred, label, sample_weight)


class SigmoidBinaryCrossEntropyLoss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(softplus(x) - x z) for logits x; with from_sigmoid=True
    l = mean_nonbatch(-(z log(p + 1e-12) + (1 - z) log(1 - p + 1e-12))) for probabilities p.

    Source convention: MXNet Gluon SigmoidBinaryCrossEntropyLoss(from_sigmoid=False,
    weight=None, batch_axis=0), alias SigmoidBCELoss; no clipping, 1e-12 inside the logs.

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.SigmoidBCELoss()(np.array([[0.0, 2.0]]), np.array([[1.0, 0.0]])).round(4)
        array([1.41])
        >>> mx.SigmoidBCELoss(from_sigmoid=True)(np.array([[0.5, 0.9]]),
        ...                                      np.array([[1.0, 1.0]])).round(4)
        array([0.3993])
    """

    def __init__(self, from_sigmoid=False, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_sigmoid = from_sigmoid

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        pred = lg.as_node(pred)
        label = _float(_reshape_like(label, pred, "label"))
        loss = (L.log_loss(pred, label, eps=LOG_EPS) if self._from_sigmoid
                else L.sigmoid_cross_entropy(pred, label))
        return self._per_sample(loss, sample_weight)


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


class SoftmaxCrossEntropyLoss(Loss):
    """l = mean_nonbatch(-log_softmax(pred, axis)[label] * sample_weight) * weight; with
    sparse_label=False l = -sum_axis label * log_softmax(pred, axis), per position.

    Source convention: MXNet Gluon SoftmaxCrossEntropyLoss(axis=-1, sparse_label=True,
    from_logits=False, weight=None, batch_axis=0), alias SoftmaxCELoss. The loss keeps `axis`
    as a size-1 dim, so sample_weight broadcasts against pred's shape with that axis at 1.
    from_logits=True takes pred as log-probabilities, used as given (no renormalization).
    Labels are truncated to int; an out-of-range label is an InputError (MXNet's pick clips it
    silently).

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.SoftmaxCELoss()(np.array([[2.0, 0.0], [0.0, 0.0]]), np.array([0, 1])).round(4)
        array([0.1269, 0.6931])

    Raises:
        InputError: a sparse label outside [0, pred.shape[axis]).
        ShapeError: a dense label (sparse_label=False) does not have pred's element count;
            sample_weight does not broadcast against the element-wise loss.
    """

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None,
                 batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._axis = axis
        self._sparse_label = sparse_label
        self._from_logits = from_logits

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        pred, axis = lg.as_node(pred), self._axis
        if self._sparse_label:
            label = _int(label)
            loss = (L.softmax_cross_entropy(pred, lg.one_hot(label, pred.shape[axis], axis=axis),
                                            axis=axis, from_logits=False)
                    if self._from_logits
                    else L.sparse_softmax_cross_entropy(pred, label, axis=axis))
        else:
            label = _float(_reshape_like(label, pred, "label"))
            loss = L.softmax_cross_entropy(pred, label, axis=axis,
                                           from_logits=not self._from_logits)
        return self._per_sample(lg.expand_dims(loss, axis % pred.ndim), sample_weight)


SoftmaxCELoss = SoftmaxCrossEntropyLoss


class KLDivLoss(Loss):
    """l = mean_nonbatch(label * (log(label + 1e-12) - pred)), pred = log q.

    Source convention: MXNet Gluon KLDivLoss(from_logits=True, axis=-1, weight=None,
    batch_axis=0): pred holds log-probabilities by default (from_logits=False applies
    log_softmax over axis first); the mean over non-batch axes divides the KL sum by the
    number of classes.

    Examples:
        >>> import zoo.mxnet as mx
        >>> mx.KLDivLoss()(np.log(np.array([[0.5, 0.5]])), np.array([[0.25, 0.75]])).round(4)
        array([0.0654])

    Raises:
        ShapeError: the label does not broadcast against pred;
            sample_weight does not broadcast against the element-wise loss.
    """

    def __init__(self, from_logits=True, axis=-1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._axis = axis

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        pred = lg.as_node(pred)
        log_q = pred if self._from_logits else lg.log_softmax(pred, axis=self._axis)
        loss = divergence.kl_divergence(label, log_q, axis=None, log_input=True, eps=LOG_EPS)
        return self._per_sample(loss, sample_weight)


class CTCLoss(Loss):
    """l_b = -log p(label_b | softmax(pred_b)) * sample_weight_b * weight, the CTC loss.

    Source convention: MXNet Gluon CTCLoss(layout='NTC', label_layout='NT', weight=None):
    pred holds unnormalized activations, the blank is the LAST class, labels are padded with
    -1 (each row ends at its first -1) unless label_lengths is given, pred_lengths limits the
    frames; an impossible alignment costs 0 (warp-ctc); per-sample losses, no mean.

    Examples:
        >>> import zoo.mxnet as mx   # 2 frames, 3 classes (blank = 2), uniform: -log(3/9)
        >>> mx.CTCLoss()(np.zeros((1, 2, 3)), np.array([[0.0, -1.0]])).round(4)
        array([1.0986])

    Raises:
        OptionError: layout not 'NTC' / 'TNC'; label_layout not 'NT' / 'TN'.
        ShapeError: label, the lengths or sample_weight do not fit pred's batch and time axes.
    """

    def __init__(self, layout='NTC', label_layout='NT', weight=None, **kwargs):
        if layout not in ("NTC", "TNC"):
            raise lg.OptionError(f"layout: expected 'NTC' or 'TNC', got {quote(layout)}")
        if label_layout not in ("NT", "TN"):
            raise lg.OptionError(f"label_layout: expected 'NT' or 'TN', got {quote(label_layout)}")
        self._layout = layout
        self._label_layout = label_layout
        super().__init__(weight, label_layout.find("N"), **kwargs)

    @dual("pred", "label", "pred_lengths", "label_lengths", "sample_weight")
    def forward(self, pred, label, pred_lengths=None, label_lengths=None, sample_weight=None):
        """The per-sample CTC losses; what calling the block runs (its examples and
        errors are in the class docstring).
        """
        pred_lengths = None if pred_lengths is None else _int(pred_lengths)
        label_lengths = None if label_lengths is None else _int(label_lengths)
        loss = L.ctc(pred, _int(label), pred_lengths, label_lengths, blank=-1,
                     from_logits=True, layout=self._layout, label_layout=self._label_layout,
                     padding=-1, zero_infinity=True, weights=sample_weight)
        return loss if self._weight is None else loss * self._weight


class HuberLoss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(|d| - rho/2 if |d| > rho else d^2 / (2 rho)), d = pred - label.

    Source convention: MXNet Gluon HuberLoss(rho=1, weight=None, batch_axis=0): the smoothed
    L1 form, i.e. the Keras/TensorLayer Huber with delta=rho divided by rho.

    Examples:
        >>> import zoo.mxnet as mx   # (0.5^2 / 2 + (3 - 1/2)) / 2
        >>> mx.HuberLoss(rho=1)(np.array([[0.5, 3.0]]), np.zeros((1, 2)))
        array([1.3125])

    Raises:
        OptionError: rho < 0 (the message gives the domain and the value).
    """

    @options(rho=NONNEGATIVE)
    def __init__(self, rho=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._rho = rho

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        return self._paired(L.smooth_l1, pred, label, sample_weight, beta=self._rho)


class HingeLoss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(max(0, margin - pred * label)), labels in {-1, 1}.

    Source convention: MXNet Gluon HingeLoss(margin=1, weight=None, batch_axis=0).

    Examples:
        >>> import zoo.mxnet as mx   # (max(0, 1 - 0.5) + max(0, 1 + 2)) / 2
        >>> mx.HingeLoss()(np.array([[0.5, 2.0]]), np.array([[1.0, -1.0]]))
        array([1.75])

    Raises:
        OptionError: margin < 0 (the message gives the domain and the value).
    """

    @options(margin=NONNEGATIVE)
    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        return self._paired(L.hinge, pred, label, sample_weight, margin=self._margin)


class SquaredHingeLoss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(max(0, margin - pred * label)^2), labels in {-1, 1}.

    Source convention: MXNet Gluon SquaredHingeLoss(margin=1, weight=None, batch_axis=0).

    Examples:
        >>> import zoo.mxnet as mx   # (0.5^2 + 3^2) / 2
        >>> mx.SquaredHingeLoss()(np.array([[0.5, 2.0]]), np.array([[1.0, -1.0]]))
        array([4.625])

    Raises:
        OptionError: margin < 0 (the message gives the domain and the value).
    """

    @options(margin=NONNEGATIVE)
    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        return self._paired(L.squared_hinge, pred, label, sample_weight, margin=self._margin)


class LogisticLoss(Loss, raises=RESHAPED):
    """l = mean_nonbatch(log(1 + exp(-pred * label))), labels in {-1, 1}.

    Source convention: MXNet Gluon LogisticLoss(weight=None, batch_axis=0). MXNet computes
    log(1 + exp(.)) naively, which overflows to inf for -pred * label above about 88
    (float32); here it is softplus, finite and exact.

    Examples:
        >>> import zoo.mxnet as mx   # (log 2 + softplus(100)) / 2: finite where MXNet overflows
        >>> mx.LogisticLoss()(np.array([[0.0, 100.0]]), np.array([[1.0, -1.0]])).round(4)
        array([50.3466])
    """

    @dual("pred", "label", "sample_weight")
    def forward(self, pred, label, sample_weight=None):
        return self._paired(L.logistic, pred, label, sample_weight, label_format="signed")


class TripletLoss(Loss):
    """l_b = max(0, sum_nonbatch((pred - positive)^2 - (pred - negative)^2) + margin) * weight.

    Source convention: MXNet Gluon TripletLoss(margin=1, weight=None, batch_axis=0), called
    as loss(pred, positive, negative) with no sample_weight; squared distances summed over
    every non-batch axis.

    Examples:
        >>> import zoo.mxnet as mx   # max(0, 1 - 4 + 1)
        >>> mx.TripletLoss()(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]),
        ...                   np.array([[0.0, 2.0]]))
        array([0.])

    Raises:
        OptionError: margin < 0 (the message gives the domain and the value).
        ShapeError: positive or negative does not have pred's element count.
    """

    @options(margin=NONNEGATIVE)
    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    @dual("pred", "positive", "negative")
    def forward(self, pred, positive, negative):
        """The per-sample triplet losses of (pred, positive, negative); what calling the block
        runs (its examples and errors are in the class docstring).
        """
        pred = lg.as_node(pred)
        positive = _reshape_like(positive, pred, "positive")
        negative = _reshape_like(negative, pred, "negative")
        axes = tuple(a for a in range(pred.ndim) if a != self._batch_axis % pred.ndim)
        loss = ranking.triplet(pred, positive, negative, margin=self._margin, axis=axes)
        return loss if self._weight is None else loss * self._weight
