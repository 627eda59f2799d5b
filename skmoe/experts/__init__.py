"""Expert families: the regression functions mixed by the gate."""

from functools import partial

from ..utils._families import resolve_family
from ._base import Experts, LinearStatistics
from ._columns import ColumnExperts
from ._ffn import FFNExperts
from ._linear import LinearExperts
from ._polynomial import PolynomialExperts

#: name -> class of every expert family, for ``experts="name"``
EXPERTS = {
    "linear": LinearExperts,
    "polynomial": PolynomialExperts,
    "ffn": FFNExperts,
}

#: ``resolve_experts(value)``: a validated experts object from a registered
#: name or an Experts object (cloned), see
#: :func:`skmoe.utils._families.resolve_family`
resolve_experts = partial(resolve_family, "experts", registry=EXPERTS,
                          base=Experts)

__all__ = [
    "ColumnExperts",
    "EXPERTS",
    "Experts",
    "FFNExperts",
    "LinearExperts",
    "LinearStatistics",
    "PolynomialExperts",
    "resolve_experts",
]
