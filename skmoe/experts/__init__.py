"""Expert families: the regression functions mixed by the gate."""

from ._base import Experts
from ._ffn import FFNExperts
from ._linear import LinearExperts
from ._polynomial import PolynomialExperts

#: name -> class of every expert family, for ``experts="name"``
EXPERTS = {
    "linear": LinearExperts,
    "polynomial": PolynomialExperts,
    "ffn": FFNExperts,
}


def resolve_experts(experts):
    """Return a new experts object from a registered name.

    Parameters
    ----------
    experts : str
        A key of :data:`EXPERTS`.

    Returns
    -------
    experts : Experts
    """
    try:
        return EXPERTS[experts]()
    except (KeyError, TypeError):
        raise ValueError(
            f"experts must be one of {sorted(EXPERTS)} or an Experts object; "
            f"got {experts!r}."
        ) from None


__all__ = [
    "EXPERTS",
    "Experts",
    "FFNExperts",
    "LinearExperts",
    "PolynomialExperts",
    "resolve_experts",
]
