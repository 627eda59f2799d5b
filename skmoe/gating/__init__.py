"""Gating families: maps from inputs to expert weights on the simplex."""

from ._base import GateLikelihood, Gating
from ._hierarchical import HierarchicalSoftmaxGating
from ._sigmoid import NormalizedSigmoidGating
from ._softmax import SoftmaxGating

#: name -> class of every gating family, for ``gating="name"``
GATINGS = {
    "softmax": SoftmaxGating,
    "normalized_sigmoid": NormalizedSigmoidGating,
    "hierarchical_softmax": HierarchicalSoftmaxGating,
}


def resolve_gating(gating):
    """Return a new gating object from a registered name.

    Parameters
    ----------
    gating : str
        A key of :data:`GATINGS`.

    Returns
    -------
    gating : Gating
    """
    try:
        return GATINGS[gating]()
    except (KeyError, TypeError):
        raise ValueError(
            f"gating must be one of {sorted(GATINGS)} or a Gating object; "
            f"got {gating!r}."
        ) from None


__all__ = [
    "GATINGS",
    "GateLikelihood",
    "Gating",
    "HierarchicalSoftmaxGating",
    "NormalizedSigmoidGating",
    "SoftmaxGating",
    "resolve_gating",
]
