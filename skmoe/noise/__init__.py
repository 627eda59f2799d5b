"""Noise models of the experts: the law of ``y`` given expert ``k``.

One file per family, like :mod:`skmoe.gating` and :mod:`skmoe.experts`:
Gaussian (:class:`GaussianNoise`, the default) and Student-t
(:class:`StudentTNoise`, the t mixture of experts) noise around the
experts' means, and the GLM response families Poisson
(:class:`PoissonNoise`, counts, log link) and binomial
(:class:`BinomialNoise`, proportions, logit link), whose experts give the
linear predictors; and the multivariate Gaussian law of several responses
sharing one gate (:class:`MultivariateGaussianNoise`, ``y`` of shape
(n_samples, n_targets)). The EM solver talks to a noise model through the
:class:`NoiseModel` contract, so EM is the same loop for every model;
:class:`~skmoe.MoEParams` uses it for densities, distribution functions and
draws.
"""

from ..utils._families import resolve_family
from ._base import NoiseModel, update_variances, variances_from_rss
from ._binomial import BinomialNoise
from ._gaussian import GaussianNoise
from ._multivariate import MultivariateGaussianNoise
from ._poisson import PoissonNoise
from ._student_t import DF_BOUNDS, DF_MAX_FIXED, StudentTNoise

#: name -> class of every noise model, for ``noise="name"``
NOISES = {"gaussian": GaussianNoise, "student_t": StudentTNoise,
          "poisson": PoissonNoise, "binomial": BinomialNoise,
          "multivariate_gaussian": MultivariateGaussianNoise}


def resolve_noise(noise, noise_df=None):
    """The noise model object for a name (and the estimator's ``noise_df``).

    Parameters
    ----------
    noise : {"gaussian", "student_t", "poisson", "binomial", \
            "multivariate_gaussian"} or NoiseModel
        A name or a noise model (cloned).
    noise_df : float or None, default=None
        Degrees of freedom of ``"student_t"`` (None: estimated). Must be None
        for the other noise models and for a noise model object (whose own
        hyper-parameters hold them).

    Returns
    -------
    noise : NoiseModel
        The validated noise model.
    """
    if isinstance(noise, NoiseModel):
        if noise_df is not None:
            raise ValueError(
                f"noise_df is only used with noise='student_t'; got noise_df="
                f"{noise_df!r} with noise={noise!r} (set the degrees of freedom "
                "of a noise object on the object)."
            )
        return resolve_family("noise", noise, NOISES, NoiseModel)
    if noise != "student_t" and noise_df is not None:
        raise ValueError(
            f"noise_df is only used with noise='student_t'; got noise_df="
            f"{noise_df!r} with noise={noise!r}."
        )
    kwargs = {"df": noise_df} if noise == "student_t" else {}
    return resolve_family("noise", noise, NOISES, NoiseModel, **kwargs)


def noise_for_targets(noise, y_shape):
    """The noise model of ``noise``'s law for targets of shape ``y_shape``.

    A 1-D ``y`` (one response per row) takes a law of one response, a 2-D
    ``y`` of shape (n_samples, n_targets) a law of several responses: a law
    of the other kind is replaced by its counterpart (its
    ``multi_output_law`` or ``single_output_law``: ``"gaussian"`` and
    ``"multivariate_gaussian"`` are each other's), or refused.

    Parameters
    ----------
    noise : NoiseModel
        The noise model of the estimator's ``noise``.
    y_shape : tuple of int
        The shape of ``y``.

    Returns
    -------
    noise : NoiseModel
        ``noise`` itself, or a new object of its counterpart law.

    Raises
    ------
    ValueError
        Naming ``y`` and the noise model, for a ``y`` of more than two
        dimensions or several responses under a law of one response.

    Examples
    --------
    >>> from skmoe.noise import GaussianNoise, noise_for_targets
    >>> noise_for_targets(GaussianNoise(), (100, 2))
    MultivariateGaussianNoise()
    >>> noise_for_targets(GaussianNoise(), (100,))
    GaussianNoise()
    """
    ndim = len(y_shape)
    if ndim > 2:
        raise ValueError(
            "y must be 1-D (one response per row) or 2-D of shape (n_samples, "
            f"n_targets) (several responses) for noise={noise._spelling()}; "
            f"got an array of shape {tuple(y_shape)}."
        )
    several = ndim == 2
    if several == noise.multi_output:
        return noise
    name = noise.multi_output_law if several else noise.single_output_law
    if name is None:
        raise ValueError(
            f"y has shape {tuple(y_shape)}, several responses per row, but "
            f"noise={noise._spelling()} is a law of one response per row: pass "
            "a 1-D y, or use noise='gaussian' for several responses."
        )
    return NOISES[name]()


__all__ = [
    "DF_BOUNDS",
    "DF_MAX_FIXED",
    "NOISES",
    "BinomialNoise",
    "GaussianNoise",
    "MultivariateGaussianNoise",
    "NoiseModel",
    "PoissonNoise",
    "StudentTNoise",
    "noise_for_targets",
    "resolve_noise",
    "update_variances",
    "variances_from_rss",
]
