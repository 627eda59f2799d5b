"""Noise models of the experts: the law of ``y`` given expert ``k``.

One file per family, like :mod:`skmoe.gating` and :mod:`skmoe.experts`:
Gaussian (:class:`GaussianNoise`, the default) and Student-t
(:class:`StudentTNoise`, the t mixture of experts) noise around the
experts' means, and the GLM response families Poisson
(:class:`PoissonNoise`, counts, log link) and binomial
(:class:`BinomialNoise`, proportions, logit link), whose experts give the
linear predictors. The EM solver talks to a noise model through the
:class:`NoiseModel` contract, so EM is the same loop for every model;
:class:`~skmoe.MoEParams` uses it for densities, distribution functions and
draws.
"""

from ..utils._families import resolve_family
from ._base import NoiseModel, update_variances, variances_from_rss
from ._binomial import BinomialNoise
from ._gaussian import GaussianNoise
from ._poisson import PoissonNoise
from ._student_t import DF_BOUNDS, DF_MAX_FIXED, StudentTNoise

#: name -> class of every noise model, for ``noise="name"``
NOISES = {"gaussian": GaussianNoise, "student_t": StudentTNoise,
          "poisson": PoissonNoise, "binomial": BinomialNoise}


def resolve_noise(noise, noise_df=None):
    """The noise model object for a name (and the estimator's ``noise_df``).

    Parameters
    ----------
    noise : {"gaussian", "student_t", "poisson", "binomial"} or NoiseModel
        A name or a noise model (returned as is).
    noise_df : float or None, default=None
        Degrees of freedom of ``"student_t"`` (None: estimated). Must be None
        for the other noise models.

    Returns
    -------
    noise : NoiseModel
        The validated noise model.
    """
    if isinstance(noise, NoiseModel):
        return noise
    if noise != "student_t" and noise_df is not None:
        raise ValueError(
            f"noise_df is only used with noise='student_t'; got noise_df="
            f"{noise_df!r} with noise={noise!r}."
        )
    kwargs = {"df": noise_df} if noise == "student_t" else {}
    return resolve_family("noise", noise, NOISES, NoiseModel, **kwargs)


__all__ = [
    "DF_BOUNDS",
    "DF_MAX_FIXED",
    "NOISES",
    "BinomialNoise",
    "GaussianNoise",
    "NoiseModel",
    "PoissonNoise",
    "StudentTNoise",
    "resolve_noise",
    "update_variances",
    "variances_from_rss",
]
