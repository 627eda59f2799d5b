"""Gating families: maps from inputs to expert weights on the simplex."""

from functools import partial

from ..utils._families import resolve_family
from ._base import GateLikelihood, Gating, NewtonTerms
from ._columns import ColumnGating
from ._gaussian import GaussianGating
from ._hierarchical import HierarchicalSoftmaxGating
from ._sigmoid import NormalizedSigmoidGating
from ._softmax import SoftmaxGating

#: name -> class of every gating family, for ``gating="name"``
GATINGS = {
    "softmax": SoftmaxGating,
    "normalized_sigmoid": NormalizedSigmoidGating,
    "hierarchical_softmax": HierarchicalSoftmaxGating,
    "gaussian": GaussianGating,
}

#: ``resolve_gating(value)``: a validated gating object from a registered name
#: or a Gating object (cloned), see :func:`skmoe.utils._families.resolve_family`
resolve_gating = partial(resolve_family, "gating", registry=GATINGS, base=Gating)

__all__ = [
    "ColumnGating",
    "GATINGS",
    "GateLikelihood",
    "GaussianGating",
    "Gating",
    "HierarchicalSoftmaxGating",
    "NewtonTerms",
    "NormalizedSigmoidGating",
    "SoftmaxGating",
    "resolve_gating",
]
