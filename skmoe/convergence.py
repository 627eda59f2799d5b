"""Sample-size studies: how fast does an estimator learn its parameters?"""

import csv
import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._estimator import MixtureOfExpertsRegressor
from ._params import MoEParams
from .datasets import sample_moe_regression
from .experts import Experts, FFNExperts, LinearExperts, resolve_experts
from .gating import Gating, NormalizedSigmoidGating, SoftmaxGating, resolve_gating
from .metrics import (
    density_distance,
    parameter_error,
    regression_distance,
    voronoi_loss,
)
from .utils._abilities import Requirements, check_requirements
from .utils._warnings import DegenerateFitWarning, EmptyExpertWarning

#: starts of :func:`sample_size_study`: skmoe's near-true start, the authors'
#: near-true recipe, the estimator's own ``init_params``, the truth itself
_INITS = ("near_true", "near_true_authors", "random", "truth")
_RECIPES = ("skmoe", "authors")
_N_EVAL = 1000  # inputs drawn per task for "regression" and "hellinger"
#: losses that do not compare gate or expert parameters with the truth's
_FUNCTION_LOSSES = ("regression", "hellinger")


def _sum_parameter_error(estimated, true):
    err = parameter_error(estimated, true)
    return float(sum(v.sum() for k, v in err.items() if not k.endswith("index")))


class _VoronoiLoss:
    """``voronoi_loss`` of one kind and parametrization (picklable, named).

    The column name is the kind (``"D1"``; ``"D1_canonical"`` for the
    canonical parametrization). ``reference`` is the reference model of
    ``"D4"``.
    """

    def __init__(self, kind, parametrization="raw", reference=None):
        self.kind = kind
        self.parametrization = parametrization
        self.reference = reference
        self.__name__ = kind + ("" if parametrization == "raw" else "_canonical")

    def __call__(self, estimated, true):
        return voronoi_loss(estimated, true, kind=self.kind,
                            reference=self.reference,
                            parametrization=self.parametrization)


def _named_losses(loss):
    """``(name, function(estimated, true, X_eval))`` for every requested loss."""
    if loss is None:
        loss = ("voronoi",)
    if isinstance(loss, str) or callable(loss):
        loss = (loss,)
    out = []
    kinds = {f"D{k}{suffix}": (f"D{k}", param) for k in (1, 2, 3)
             for suffix, param in (("", "raw"), ("_canonical", "canonical"))}
    for item in loss:
        if callable(item):
            name = getattr(item, "__name__", "loss")
            out.append((name, lambda e, t, X, f=item: float(f(e, t))))
        elif item == "voronoi":
            out.append(("voronoi", lambda e, t, X: voronoi_loss(e, t)))
        elif item in kinds:
            f = _VoronoiLoss(*kinds[item])
            out.append((item, lambda e, t, X, f=f: float(f(e, t))))
        elif item == "parameter_error":
            out.append((item, lambda e, t, X: _sum_parameter_error(e, t)))
        elif item == "regression":
            out.append((item, lambda e, t, X: regression_distance(e, t, X)))
        elif item == "hellinger":
            out.append((item, lambda e, t, X: density_distance(e, t, X[:200],
                                                               n_grid=401)))
        else:
            raise ValueError(
                "loss must be a callable or one of 'voronoi', 'D1', 'D2', 'D3', "
                "'D1_canonical', 'D2_canonical', 'D3_canonical', "
                f"'parameter_error', 'regression', 'hellinger'; got {item!r}."
            )
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"loss names must be distinct; got {names}.")
    return out


#: what a near-true start needs of the truth's gate: atoms whose weights
#: can be split between the copies of a true expert
NEAR_TRUE = Requirements("near_true_init", gating=("atoms",),
                         noise=("univariate",))


def _compares_parameters(loss):
    """Whether some requested loss compares parameters with the truth's.

    The regression and density distances compare functions, and ``"D4"``
    compares the routed atoms with its reference: those can be measured
    against a truth outside the fitted family's convention (a misspecified
    study). Any other loss, user callables included, compares parameters.
    """
    if loss is None:
        return True
    if isinstance(loss, str) or callable(loss):
        loss = (loss,)
    return any(not (item in _FUNCTION_LOSSES
                    or (isinstance(item, _VoronoiLoss) and item.kind == "D4"))
               for item in loss)


# --------------------------------------------------------------------------
# The truth in the fitted family's convention
# --------------------------------------------------------------------------
def _row_text(params, k):
    return (f"(beta_1, beta_0) = ({params.gate_coef[k].tolist()}, "
            f"{float(params.gate_intercept[k]):.6g})")


def _conform_truth(true_params, gating, *, compares_parameters):
    """``true_params`` in the convention of the fitted ``gating``.

    Only a gate that holds its last row at zero without being invariant to a
    common shift (the pinned normalized sigmoid: ``gating.convention()`` is
    ``"last row at zero"`` and ``gating.shift_invariant()`` is False) needs
    a truth in its convention; a softmax truth is compared up to the shift
    anyway. A truth whose last row is not zero is converted exactly when the
    family's :meth:`~skmoe.Gating.normalize` can (for the normalized sigmoid:
    a constant gate), with a warning that says how; otherwise a study whose
    losses compare parameters with the truth gets a ``ValueError`` naming
    the field and the convention, and a misspecified study (functions or
    ``"D4"`` only) keeps the truth as it is.
    """
    if gating.convention() != "last row at zero" or gating.shift_invariant():
        return true_params
    if not (np.any(true_params.gate_coef[-1]) or true_params.gate_intercept[-1]):
        return true_params
    text = _row_text(true_params, -1)
    convention = (f"{gating!r} holds the last routed expert's gate row at "
                  "(beta_1, beta_0) = (0, 0) (convention A.2 of "
                  "arXiv:2505.10860)")
    try:
        fields = gating.normalize(true_params.replace(gating=gating))
    except ValueError:
        fields = None
    if fields is not None:
        converted = true_params.replace(gating=gating, **fields)
        warnings.warn(
            f"true_params.gate_coef[-1] and gate_intercept[-1]: {text} "
            f"violates the fitted family's convention: {convention}. Its "
            "gate is constant (every slope zero), so the same distribution "
            "is written with the last row at zero by rescaling the scores: "
            f"true_params.gate_intercept {true_params.gate_intercept.tolist()}"
            f" -> {converted.gate_intercept.tolist()}; the study uses the "
            "converted truth.",
            UserWarning, stacklevel=3,
        )
        return converted
    if compares_parameters:
        raise ValueError(
            f"true_params.gate_coef[-1] and gate_intercept[-1]: {text} violates "
            f"the fitted family's convention: {convention}, and this truth has "
            "no exact form in that convention (the normalized sigmoid is not "
            "invariant to a common shift of the logits), so its gate "
            "parameters cannot be compared with a fit's. Give a truth whose "
            "last routed gate row is zero, or measure a misspecified fit with "
            "losses that do not compare parameters ('regression', "
            "'hellinger', or D4 against a reference)."
        )
    return true_params




def _authors_assignment(rng, n_fitted, n_true):
    """Random true atom of every fitted atom, the last fitted on the last true.

    Redrawn until every true atom is used (CRPE-SGaME / meteoritsSim).
    """
    while True:
        idx = rng.randint(0, n_true, n_fitted)
        idx[-1] = n_true - 1
        if np.unique(idx).size == n_true:
            return idx


def _pinned_rows(gating, fields, template):
    """Gate fields with the last row in the family's convention.

    A shift-invariant gate is normalised (an exact shift). A gate that pins
    its last row without that symmetry gets the row ``(0, 0)``; that is the
    truth's own last row whenever the truth follows the convention.
    """
    if gating.convention() != "last row at zero":
        return fields
    try:
        return gating.normalize(template.replace(**fields))
    except ValueError:  # a truth outside the convention (misspecified study)
        coef, intercept = fields["gate_coef"].copy(), fields["gate_intercept"].copy()
        coef[-1], intercept[-1] = 0.0, 0.0
        return {"gate_coef": coef, "gate_intercept": intercept}


def _per_atom_draw(rng, theta, n_atoms, sd):
    """Add one ``N(0, sd^2)`` draw to every atom's block of ``theta``.

    ``pack`` lays the free parameters out atom by atom (row by row), so each
    atom's block is contiguous.
    """
    if theta.size % max(n_atoms, 1):
        raise ValueError(
            "recipe='authors' adds one draw per atom to its free parameters; "
            f"got {theta.size} free parameters for {n_atoms} atoms."
        )
    blocks = theta.reshape(n_atoms, -1) if n_atoms else theta.reshape(0, 0)
    return (blocks + sd * rng.standard_normal((n_atoms, 1))).ravel()


def near_true_init(true_params, n_experts, *, n_shared_experts=0, gating=None,
                   experts=None, shared_experts=None, shared_weight=None,
                   recipe="skmoe", noise=0.05, n_samples=None, random_state=None):
    """A start near the truth for an exactly- or over-specified model.

    Every fitted atom is assigned a true atom, every true atom is used, and
    the last fitted atom is assigned the last true atom (whose gate row is
    the reference of the identifiability convention). Two recipes:

    - ``recipe="skmoe"`` (the package's): fitted atoms ``0 .. K*-2`` copy the
      true atoms in order, the further atoms copy true atoms drawn at random
      (for a gate that pins its last row without being shift-invariant,
      among the unpinned ones, so that the pinned cell needs no split). The
      atoms sharing a true atom split its weight equally (gate intercepts
      ``beta_0 - log m`` for a softmax gate, ``logit(sigmoid(beta_0) / m)``
      for a normalized sigmoid gate, ``omega / m`` for shared experts). Then
      every **free** gate and expert parameter (those the families' ``pack``
      returns: never the pinned gate row, never a column an expert family
      holds at zero, such as the output offset of ``FFNExperts
      (fit_intercept=False)``) receives an independent ``N(0, noise^2)``
      perturbation, and variances are multiplied by ``exp(N(0, noise^2))``.
    - ``recipe="authors"`` (the near-true start of the authors' public code
      for the NeurIPS 2023 softmax-gating paper, CRPE-SGaME with the R
      package meteoritsSim, PAPERS.md section 5): the true atom of every
      fitted atom is drawn at random, the last fitted atom is pinned to the
      last true atom, and the draw is repeated until every true atom is used;
      no weight is split (copies carry the true intercept); one scalar normal
      draw is added to all free parameters of each atom, with standard
      deviation ``0.005 n^-0.083`` for a gate row and ``0.05 n^-0.083`` for an
      expert; variances are ``true + |N(0, (0.005 n^-0.25)^2)|``, with ``n =
      n_samples``. Shared experts (absent from the authors' code) get the
      same treatment as experts; their weights are copies renormalised to sum
      to one.

    Parameters
    ----------
    true_params : MoEParams
        The truth. With a fitted gate that pins its last row without being
        shift-invariant (``NormalizedSigmoidGating(pin_last=True)``), a truth
        whose last routed row is not zero is converted exactly where
        possible, with a warning; otherwise the start's last row is the
        family's ``(0, 0)`` (a misspecified study, such as the printed truth
        of DeepSeekMoE experiment (d)).
    n_experts : int
        Number of fitted routed experts, at least ``true_params.n_experts``.
    n_shared_experts : int, default=0
        Number of fitted shared experts (0, or at least the true number).
    gating, experts, shared_experts : str or Gating/Experts, default=None
        Families of the start; None uses the truth's. The gating family must
        be the truth's (its rows are copied); its hyper-parameters may differ.
    shared_weight : float, default=None
        Shared weight of the start; None uses the truth's.
    recipe : {"skmoe", "authors"}, default="skmoe"
        Which near-true start.
    noise : float, default=0.05
        Standard deviation of the ``"skmoe"`` perturbations; 0 gives the
        truth itself when the sizes agree. Ignored by ``"authors"``.
    n_samples : int, default=None
        Sample size of the fit, which sets the ``"authors"`` standard
        deviations (required there, ignored by ``"skmoe"``).
    random_state : int, RandomState instance or None, default=None
        Controls the assignments and the noise. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    params : MoEParams
        The start, to pass as ``init_params``.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.convergence import near_true_init
    >>> _, _, truth = make_moe_regression(10, 1, 2, random_state=0)
    >>> near_true_init(truth, 3, random_state=0).n_experts
    3
    >>> near_true_init(truth, 3, recipe="authors", n_samples=1000,
    ...                random_state=0).n_experts
    3
    """
    if not isinstance(true_params, MoEParams):
        raise ValueError(
            f"true_params must be an MoEParams; got {type(true_params).__name__}."
        )
    if recipe not in _RECIPES:
        raise ValueError(f"recipe must be one of {_RECIPES}; got {recipe!r}.")
    if recipe == "authors" and not (isinstance(n_samples, Integral)
                                    and n_samples >= 1):
        raise ValueError(
            "recipe='authors' draws its noise with standard deviations that "
            "shrink with the sample size: n_samples must be a positive integer; "
            f"got {n_samples!r}."
        )
    if not (isinstance(noise, Real) and noise >= 0):
        raise ValueError(f"noise must be a non-negative float; got {noise!r}.")
    rng = check_random_state(random_state)
    gating = true_params.gating if gating is None else gating
    gating = gating if isinstance(gating, Gating) else resolve_gating(gating)
    experts = true_params.experts if experts is None else experts
    experts = experts if isinstance(experts, Experts) else resolve_experts(experts)
    if type(gating) is not type(true_params.gating):
        raise ValueError(
            "near-true starts copy the truth's gate rows: gating must be of the "
            f"truth's family {type(true_params.gating).__name__}; got "
            f"{type(gating).__name__}."
        )
    truth = _conform_truth(true_params, gating, compares_parameters=False)
    K_true, K, d = truth.n_experts, n_experts, truth.n_features
    if not (isinstance(K, Integral) and K >= K_true):
        raise ValueError(
            f"near-true starts need n_experts >= the true number {K_true}; got "
            f"n_experts={n_experts}."
        )
    check_requirements(NEAR_TRUE, gating=gating, noise=truth.noise,
                       n_experts=K_true)
    if recipe == "authors":
        idx = _authors_assignment(rng, K, K_true)
    else:
        # a pinned gate without a shift symmetry keeps its last atom last
        pinned = (gating.convention() == "last row at zero"
                  and not gating.shift_invariant())
        choices = K_true - 1 if pinned and K_true > 1 else K_true
        idx = np.concatenate([np.arange(K_true - 1),
                              rng.randint(0, choices, K - K_true), [K_true - 1]])
    intercept = truth.gate_intercept[idx]
    if recipe == "skmoe":
        counts = np.bincount(idx, minlength=K_true)[idx]
        intercept = gating.split_atoms(intercept, counts)
    template = MoEParams(
        gate_coef=truth.gate_coef[idx], gate_intercept=intercept,
        expert_params=truth.expert_params[idx], variance=truth.variance[idx],
        gating=gating, experts=experts,
    )
    if K == 1:
        gate = {"gate_coef": np.zeros((1, d)), "gate_intercept": np.zeros(1)}
    else:
        gate = _pinned_rows(gating, {"gate_coef": template.gate_coef,
                                     "gate_intercept": template.gate_intercept},
                            template)
    template = template.replace(**gate)
    theta_gate = gating.pack(template)
    theta_exp = experts.pack(template.expert_params)
    if recipe == "authors":
        rows = theta_gate.size // (d + 1) if theta_gate.size % (d + 1) == 0 else -1
        if rows < 0:
            raise ValueError(
                "recipe='authors' adds one draw per gate row; got a gate whose "
                f"{theta_gate.size} free parameters are not whole rows of "
                f"{d + 1} ({gating!r})."
            )
        theta_gate = _per_atom_draw(rng, theta_gate, rows,
                                    0.005 * n_samples**-0.083)
        theta_exp = _per_atom_draw(rng, theta_exp, K, 0.05 * n_samples**-0.083)
        variance = template.variance + np.abs(
            0.005 * n_samples**-0.25 * rng.standard_normal(K))
    else:
        theta_gate = theta_gate + noise * rng.standard_normal(theta_gate.size)
        theta_exp = theta_exp + noise * rng.standard_normal(theta_exp.size)
        variance = template.variance * np.exp(noise * rng.standard_normal(K))
    fields = dict(
        expert_params=experts.unpack(theta_exp, K, d), variance=variance,
        **gating.unpack(theta_gate, template),
    )
    if n_shared_experts:
        fields.update(_near_true_shared(
            truth, n_shared_experts, shared_experts, shared_weight, recipe,
            noise, n_samples, rng))
    return template.replace(**fields)


def _near_true_shared(truth, n_shared, shared_experts, shared_weight, recipe,
                      noise, n_samples, rng):
    """Shared-expert fields of :func:`near_true_init`."""
    S_true, d = truth.n_shared_experts, truth.n_features
    if not (isinstance(n_shared, Integral) and S_true and n_shared >= S_true):
        raise ValueError(
            "near-true starts need n_shared_experts >= the true number "
            f"{S_true} (and a truth with shared experts); got "
            f"n_shared_experts={n_shared}."
        )
    family = truth.shared_experts if shared_experts is None else shared_experts
    family = family if isinstance(family, Experts) else resolve_experts(family)
    if recipe == "authors":
        sidx = _authors_assignment(rng, n_shared, S_true)
        weights = truth.shared_weights[sidx] / truth.shared_weights[sidx].sum()
    else:
        sidx = np.concatenate([np.arange(S_true),
                               rng.randint(0, S_true, n_shared - S_true)])
        weights = (truth.shared_weights[sidx]
                   / np.bincount(sidx, minlength=S_true)[sidx])
    theta = family.pack(truth.shared_params[sidx])
    variance = truth.shared_variance[sidx]
    if recipe == "authors":
        theta = _per_atom_draw(rng, theta, n_shared, 0.05 * n_samples**-0.083)
        variance = variance + np.abs(
            0.005 * n_samples**-0.25 * rng.standard_normal(n_shared))
    else:
        theta = theta + noise * rng.standard_normal(theta.size)
        variance = variance * np.exp(noise * rng.standard_normal(n_shared))
    return dict(
        shared_params=family.unpack(theta, n_shared, d), shared_variance=variance,
        shared_weights=weights, shared_experts=family,
        shared_weight=(truth.shared_weight if shared_weight is None
                       else shared_weight),
    )


# --------------------------------------------------------------------------
# Studies
# --------------------------------------------------------------------------
def _task_seeds(random_state):
    """Root entropy for the per-task seed sequences."""
    if random_state is None:
        return np.random.SeedSequence().entropy
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _one_task(estimator, true_params, n, n_index, rep, entropy, init, noise,
              x_distribution, losses, one_thread):
    seq = np.random.SeedSequence(entropy, spawn_key=(n_index, rep))
    data_seed, init_seed, fit_seed, eval_seed = seq.generate_state(4)
    objective = estimator.get_params().get("objective", "likelihood")
    X, y = sample_moe_regression(true_params, n, x_distribution=x_distribution,
                                 objective=objective,
                                 random_state=int(data_seed))
    est = clone(estimator)
    est.set_params(random_state=int(fit_seed))
    if one_thread and "n_jobs" in est.get_params():
        est.set_params(n_jobs=1)  # one Numba thread per joblib worker
    if init != "random":
        p = est.get_params()
        with warnings.catch_warnings():
            # conversions of the truth were reported once, by the study
            warnings.simplefilter("ignore", UserWarning)
            start = near_true_init(
                true_params, p["n_experts"],
                n_shared_experts=p.get("n_shared_experts", 0),
                gating=p["gating"], experts=p["experts"],
                shared_experts=p.get("shared_experts"),
                shared_weight=p.get("shared_weight"),
                recipe="authors" if init == "near_true_authors" else "skmoe",
                noise=0.0 if init == "truth" else noise, n_samples=int(n),
                random_state=int(init_seed),
            )
        est.set_params(init_params=start)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    seconds = time.perf_counter() - t0
    coinciding = False
    for w in caught:
        # an over-specified fit collapsing is what a study of over-specified
        # models measures: recorded in the "converged", "empty_experts" and
        # "coinciding" columns, not repeated once per fit; the rest is passed on
        if issubclass(w.category, DegenerateFitWarning):
            coinciding = True
        elif not issubclass(w.category, _RECORDED_WARNINGS):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    rng = np.random.RandomState(int(eval_seed) % (2**31))
    X_eval, _ = sample_moe_regression(true_params, _N_EVAL,
                                      x_distribution=x_distribution,
                                      random_state=rng)
    row = {"n": int(n), "replication": int(rep)}
    for name, fun in losses:
        row[name] = float(fun(est.params_, true_params, X_eval))
    row.update(n_iter=int(est.n_iter_), converged=bool(est.converged_),
               empty_experts=int(np.sum(est.empty_experts_)),
               coinciding=coinciding, seconds=float(seconds), init=init)
    return row


def sample_size_study(estimator, true_params, n_grid, n_replications, *,
                      loss=None, init="near_true", init_noise=0.05,
                      x_distribution="uniform", n_jobs=-1, random_state=None,
                      verbose=0):
    """Fit fresh samples of growing size and record the estimation losses.

    For every sample size ``n`` in ``n_grid`` and replication ``r`` the study
    draws a fresh sample ``(X, y)`` of size ``n`` from ``true_params``
    (:func:`skmoe.datasets.sample_moe_regression`, with the estimator's
    ``objective``), fits a clone of ``estimator`` and evaluates every loss
    of the fitted ``params_`` against the truth. Tasks run in parallel with
    joblib; each task's seeds (data, start, fit, evaluation points) are
    derived from ``random_state`` and the task's ``(n index, replication)``
    by :class:`numpy.random.SeedSequence` spawning, so the results do not
    depend on ``n_jobs`` or on the order of execution. With more than one
    worker every fit runs with one Numba thread (the estimator's ``n_jobs``
    is set to 1), so that workers and threads do not oversubscribe the
    cores.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        Unfitted estimator; its ``random_state`` (and, unless
        ``init="random"``, its ``init_params``) are set per task.
    true_params : MoEParams
        The truth. It must follow the identifiability convention of the
        estimator's gate when a loss compares parameters (see Notes).
    n_grid : sequence of int
        Sample sizes, each at least 2.
    n_replications : int
        Replications per sample size.
    loss : str, callable or sequence of them, default=None
        Losses recorded per fit: ``"voronoi"`` (:func:`skmoe.metrics.voronoi_loss`
        with ``kind="auto"``), ``"D1"``, ``"D2"``, ``"D3"`` (that kind, raw
        parameters as the paper writes them), ``"D1_canonical"``,
        ``"D2_canonical"``, ``"D3_canonical"`` (canonical parameters),
        ``"parameter_error"`` (sum of the matched errors of
        :func:`skmoe.metrics.parameter_error`), ``"regression"``
        (:func:`skmoe.metrics.regression_distance` on 1000 fresh inputs),
        ``"hellinger"`` (:func:`skmoe.metrics.density_distance` on 200 fresh
        inputs, 401 grid points) or a callable ``f(estimated, true) ->
        float`` (column named by its ``__name__``). None means
        ``("voronoi",)``.
    init : {"near_true", "near_true_authors", "random", "truth"}, \
            default="near_true"
        Start of every fit, recorded in the ``init`` column.
        ``"near_true"``: :func:`near_true_init` with ``recipe="skmoe"`` and
        noise ``init_noise``; ``"near_true_authors"``: :func:`near_true_init`
        with ``recipe="authors"`` (the authors' public recipe, noise
        shrinking with ``n``); ``"truth"``: ``recipe="skmoe"`` without noise;
        ``"random"``: the estimator's own ``init_params``.
    init_noise : float, default=0.05
        Standard deviation of the ``"near_true"`` perturbations.
    x_distribution : {"uniform", "normal"}, default="uniform"
        Inputs uniform on ``[-3, 3]`` (the DeepSeekMoE experiments) or
        standard normal.
    n_jobs : int, default=-1
        Number of joblib workers (-1: all cores).
    random_state : int, RandomState instance or None, default=None
        Root of the per-task seeds. Pass an int for reproducible output
        across multiple function calls.
    verbose : int, default=0
        joblib progress messages (the number of finished tasks and the
        elapsed time) when positive.

    Returns
    -------
    study : SampleSizeStudy
        The table of results, with :meth:`SampleSizeStudy.rate` and
        :meth:`SampleSizeStudy.plot`; ``study.init`` and the ``init`` column
        record the start, ``study.wall_seconds`` the wall time.

    Notes
    -----
    Warnings that say how a fit ended are not propagated, the table records
    them: :class:`~sklearn.exceptions.ConvergenceWarning` in ``converged``,
    :class:`~skmoe.EmptyExpertWarning` in ``empty_experts`` (the number of
    experts left without responsibility) and
    :class:`~skmoe.DegenerateFitWarning` in ``coinciding`` (two experts whose
    densities coincide). A study of over-specified models measures exactly
    this collapse of extra experts, so one warning per fit would only repeat
    it thousands of times. Other warnings are passed on.

    **The truth's convention.** Losses that compare parameters need the
    truth in the fitted gate's convention. For a gate that pins its last row
    without being shift-invariant (``NormalizedSigmoidGating(pin_last=True)``)
    a truth whose last routed row is not zero is converted to the same
    distribution with a warning that says how, when that is possible (a
    constant gate); otherwise the study raises a ``ValueError`` naming the
    field and the convention. A study that measures only functions
    (``"regression"``, ``"hellinger"``) or ``"D4"`` against a reference may
    use such a truth: its fits are then misspecified by design.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.convergence import sample_size_study
    >>> from skmoe.datasets import make_moe_regression
    >>> _, _, truth = make_moe_regression(10, 1, 1, random_state=0)
    >>> study = sample_size_study(MixtureOfExpertsRegressor(1), truth,
    ...                           [100, 400], 2, loss="parameter_error",
    ...                           n_jobs=1, random_state=0)
    >>> len(study.table), study.init
    (4, 'near_true')
    """
    if not isinstance(true_params, MoEParams):
        raise ValueError(
            f"true_params must be an MoEParams; got {type(true_params).__name__}."
        )
    n_grid = list(n_grid)
    if not n_grid or not all(isinstance(n, Integral) and n >= 2 for n in n_grid):
        raise ValueError(
            f"n_grid must be a non-empty sequence of integers >= 2; got {n_grid!r}."
        )
    if not isinstance(n_replications, Integral) or n_replications < 1:
        raise ValueError(
            f"n_replications must be an integer >= 1; got {n_replications!r}."
        )
    if init not in _INITS:
        raise ValueError(f"init must be one of {_INITS}; got {init!r}.")
    if x_distribution not in ("uniform", "normal"):
        raise ValueError(
            "x_distribution must be 'uniform' or 'normal'; got "
            f"{x_distribution!r}."
        )
    losses = _named_losses(loss)
    gating = estimator.get_params().get("gating")
    if gating is not None:
        gating = gating if isinstance(gating, Gating) else resolve_gating(gating)
        true_params = _conform_truth(
            true_params, gating, compares_parameters=_compares_parameters(loss))
    entropy = _task_seeds(random_state)
    tasks = [(n, i, r) for i, n in enumerate(n_grid) for r in range(n_replications)]
    one_thread = effective_n_jobs(n_jobs) > 1
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_one_task)(estimator, true_params, n, i, r, entropy, init,
                           init_noise, x_distribution, losses, one_thread)
        for n, i, r in tasks
    )
    return SampleSizeStudy(rows, [name for name, _ in losses], init=init,
                           wall_seconds=time.perf_counter() - t0)


_CSV_FIXED = ("n", "replication")
_CSV_TAIL = ("n_iter", "converged", "empty_experts", "coinciding", "seconds",
             "init")

#: warnings of a study's fits that its table records instead (``converged``,
#: ``empty_experts``, ``coinciding``)
_RECORDED_WARNINGS = (ConvergenceWarning, EmptyExpertWarning,
                      DegenerateFitWarning)


class SampleSizeStudy:
    """Results of :func:`sample_size_study`.

    Parameters
    ----------
    table : list of dict
        One row per ``(n, replication)``: ``n``, ``replication``, one column
        per loss, ``n_iter``, ``converged``, ``empty_experts``, ``coinciding``
        (see :func:`sample_size_study`), ``seconds`` and ``init``. Tables
        written before ``empty_experts`` and ``coinciding`` existed read
        without them.
    losses : list of str
        Names of the loss columns.
    init : str, default=None
        The start of the fits (see :func:`sample_size_study`).
    wall_seconds : float, default=None
        Wall time of the study.

    Attributes
    ----------
    table : list of dict
        The raw results (``pandas.DataFrame(study.table)`` gives a frame).
    losses : list of str
        Names of the loss columns.
    init : str or None
        The start of the fits.
    wall_seconds : float or None
        Wall time of the study.
    """

    def __init__(self, table, losses, *, init=None, wall_seconds=None):
        self.table = list(table)
        self.losses = list(losses)
        self.init = init
        self.wall_seconds = wall_seconds

    def __repr__(self):
        ns = sorted({row["n"] for row in self.table})
        return (f"SampleSizeStudy(n_grid={ns}, n_rows={len(self.table)}, "
                f"losses={self.losses}, init={self.init!r})")

    def _loss_name(self, loss):
        if loss is None:
            return self.losses[0]
        if loss not in self.losses:
            raise ValueError(f"loss must be one of {self.losses}; got {loss!r}.")
        return loss

    def _by_n(self, loss, n_min=None):
        loss = self._loss_name(loss)
        ns = np.array(sorted({row["n"] for row in self.table
                              if n_min is None or row["n"] >= n_min}))
        values = [np.array([row[loss] for row in self.table if row["n"] == n])
                  for n in ns]
        return ns, values

    def summary(self, loss=None):
        """Mean and standard deviation of a loss per sample size.

        Parameters
        ----------
        loss : str, default=None
            Loss column; None is the first.

        Returns
        -------
        n : ndarray of int
            Sample sizes, increasing.
        mean : ndarray
            Mean over the replications.
        std : ndarray
            Standard deviation over the replications (``ddof=0``).
        """
        ns, values = self._by_n(loss)
        return (ns, np.array([v.mean() for v in values]),
                np.array([v.std() for v in values]))

    def rate(self, loss=None, scale="log_n", n_boot=1000, confidence=0.95,
             random_state=None, *, n_min=None, interval="bootstrap"):
        """Slope of the log mean loss, with a confidence interval.

        Least-squares line of ``log(mean loss)`` on ``log n``
        (``scale="log_n"``; -1/2 for a root-n rate) or on ``log(log n / n)``
        (``scale="log_n_over_n"``; +1/2 for a ``sqrt(log n / n)`` rate: the
        scale of the DeepSeekMoE paper, whose reported exponents are these
        slopes), over the sample sizes ``n >= n_min``.

        Parameters
        ----------
        loss : str, default=None
            Loss column; None is the first.
        scale : {"log_n", "log_n_over_n"}, default="log_n"
            Abscissa of the regression.
        n_boot : int, default=1000
            Bootstrap resamples of ``interval="bootstrap"`` (0: no interval,
            NaN bounds).
        confidence : float, default=0.95
            Level of the interval.
        random_state : int, RandomState instance or None, default=None
            Controls the resampling. Pass an int for reproducible output
            across multiple function calls.
        n_min : int, default=None
            Fit only the sample sizes ``n >= n_min`` (None: all).
        interval : {"bootstrap", "ols"}, default="bootstrap"
            How the interval is computed (see Notes).

        Returns
        -------
        rate : dict
            ``"slope"``, ``"intercept"``, ``"ci_low"``, ``"ci_high"``,
            ``"scale"``, ``"loss"``, ``"n_min"``, ``"n_sizes"`` (sizes used)
            and ``"interval"``.

        Notes
        -----
        ``"bootstrap"`` (the default) is the percentile interval of
        :func:`scipy.stats.bootstrap` with the replications of every sample
        size resampled independently (one sample per ``n``,
        ``paired=False``), the slope recomputed from the resampled means. The
        replications are the only random part of the study (the grid is
        fixed, and the slope is a smooth function of the per-``n`` means), so
        the interval is the uncertainty that finitely many replications leave
        in the slope, whether or not the means lie on a straight line; it
        needs two replications per size or more. ``"ols"`` is the
        t-interval of the least-squares slope from the residuals around the
        line (``len(n) - 2`` degrees of freedom): it treats departures from
        a straight line (a curved, pre-asymptotic range) as noise, so it is
        wide when the power law does not hold over the grid, and it ignores
        how noisy each mean is.
        """
        if scale not in ("log_n", "log_n_over_n"):
            raise ValueError(
                f"scale must be 'log_n' or 'log_n_over_n'; got {scale!r}."
            )
        if interval not in ("bootstrap", "ols"):
            raise ValueError(
                f"interval must be 'bootstrap' or 'ols'; got {interval!r}."
            )
        name = self._loss_name(loss)
        ns, values = self._by_n(name, n_min)
        if ns.size < 2:
            raise ValueError(
                f"rate needs at least two sample sizes >= n_min={n_min}; got "
                f"{ns.tolist()}."
            )
        x = np.log(ns) if scale == "log_n" else np.log(np.log(ns) / ns)

        def fit(means):
            if np.any(means <= 0):
                raise ValueError(
                    f"mean {name} is not positive at every n; cannot take logs."
                )
            slope, intercept = np.polyfit(x, np.log(means), 1)
            return float(slope), float(intercept)

        slope, intercept = fit(np.array([v.mean() for v in values]))
        lo = hi = np.nan
        if interval == "ols":
            if ns.size > 2:
                resid = np.log([v.mean() for v in values]) - (intercept + slope * x)
                se = np.sqrt(resid @ resid / (ns.size - 2)
                             / np.sum((x - x.mean()) ** 2))
                t = stats.t.ppf(0.5 + confidence / 2, ns.size - 2)
                lo, hi = slope - t * se, slope + t * se
        elif n_boot and min(v.size for v in values) >= 2:
            res = stats.bootstrap(
                tuple(values), lambda *s: fit(np.array([v.mean() for v in s]))[0],
                n_resamples=int(n_boot), confidence_level=confidence,
                method="percentile", paired=False, vectorized=False,
                rng=check_random_state(random_state).randint(0, 2**31 - 1),
            )
            lo, hi = float(res.confidence_interval.low), float(
                res.confidence_interval.high)
        return {"slope": slope, "intercept": intercept, "ci_low": float(lo),
                "ci_high": float(hi), "scale": scale, "loss": name,
                "n_min": n_min, "n_sizes": int(ns.size), "interval": interval}

    def plot(self, ax=None, loss=None, scale="log_n"):
        """Log-log plot of the mean loss (± one std) with the fitted line.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        loss : str, default=None
            Loss column; None is the first.
        scale : {"log_n", "log_n_over_n"}, default="log_n"
            Scale of the fitted line (see :meth:`rate`); the abscissa is
            ``n`` in both cases.

        Returns
        -------
        ax : matplotlib Axes
            The axes.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError(
                "SampleSizeStudy.plot needs matplotlib: pip install matplotlib"
            ) from exc
        name = self._loss_name(loss)
        ns, mean, std = self.summary(name)
        fit = self.rate(name, scale=scale, n_boot=0)
        if ax is None:
            _, ax = plt.subplots()
        ax.errorbar(ns, mean, yerr=std, fmt="o", capsize=3, label=f"mean {name}")
        x = np.log(ns) if scale == "log_n" else np.log(np.log(ns) / ns)
        label = ("n" if scale == "log_n" else "(log n / n)")
        ax.plot(ns, np.exp(fit["intercept"] + fit["slope"] * x), "-",
                label=f"fit: {label}^{fit['slope']:.3f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel(name)
        ax.legend()
        return ax

    def save(self, directory, name, *, scale="log_n", loss=None):
        """Write ``<name>.csv`` and ``<name>.png`` (the :meth:`plot`) in a directory.

        Parameters
        ----------
        directory : str or path-like
            Destination directory (created if needed).
        name : str
            Stem of the two files.
        scale : {"log_n", "log_n_over_n"}, default="log_n"
            Scale of the fitted line of the plot.
        loss : str, default=None
            Loss column of the plot; None is the first.

        Returns
        -------
        paths : tuple of str
            The CSV and PNG paths.
        """
        try:  # a figure without pyplot: no backend or global state touched
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError(
                "SampleSizeStudy.save needs matplotlib: pip install matplotlib"
            ) from exc
        os.makedirs(directory, exist_ok=True)
        csv_path = os.path.join(directory, f"{name}.csv")
        png_path = os.path.join(directory, f"{name}.png")
        self.to_csv(csv_path)
        fig = Figure(figsize=(5, 3.6))
        ax = fig.subplots()
        self.plot(ax=ax, loss=loss, scale=scale)
        ax.set_title(f"{name} (start: {self.init})", fontsize=9)
        fig.tight_layout()
        fig.savefig(png_path, dpi=110)
        return csv_path, png_path

    def _header(self):
        extra = [k for k in _CSV_TAIL if self.table and k in self.table[0]]
        return [*_CSV_FIXED, *self.losses, *extra]

    def to_csv(self, path):
        """Write the table as CSV (one header row).

        Parameters
        ----------
        path : str or path-like
            Destination file.
        """
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._header(),
                                    extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.table)

    @classmethod
    def read_csv(cls, path):
        """Read a table written by :meth:`to_csv`.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`to_csv`.

        Returns
        -------
        study : SampleSizeStudy
            The study (``init`` from its column, ``wall_seconds`` None).
        """
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
        losses = [h for h in header if h not in _CSV_FIXED + _CSV_TAIL]
        convert = {"n": int, "replication": int, "n_iter": int, "seconds": float,
                   "converged": lambda v: v == "True", "init": str,
                   "empty_experts": int, "coinciding": lambda v: v == "True",
                   **{name: float for name in losses}}
        table = [{k: convert[k](v) for k, v in row.items()} for row in rows]
        inits = {row.get("init") for row in table}
        return cls(table, losses, init=inits.pop() if len(inits) == 1 else None)


# --------------------------------------------------------------------------
# The DeepSeekMoE paper's synthetic experiments (PAPERS.md section 5)
# --------------------------------------------------------------------------
#: exponents of the loss on ``log(n) / n`` reported by arXiv:2505.10860
DEEPSEEK_REPORTED_RATES = {"a": 0.451, "b": 0.517, "c": 0.46, "d": 0.552}

#: loss of each experiment (``"D4"`` needs a reference fit)
DEEPSEEK_LOSSES = {"a": "D1", "b": "D2", "c": "D3", "d": "D4"}

#: the paper's range: ``n`` from ``1e2`` to ``1e5`` (13 log-spaced sizes, four
#: per decade; the paper does not give its number of sizes) and 40
#: replications, as ``(n_grid, n_replications)``
DEEPSEEK_FULL_GRID = (
    [int(round(v)) for v in np.logspace(2, 5, 13)], 40)


def _check_experiment(experiment):
    if experiment not in DEEPSEEK_REPORTED_RATES:
        raise ValueError(
            "experiment must be one of 'a', 'b', 'c', 'd'; got "
            f"{experiment!r}."
        )


def _deepseek_families(experiment):
    """Gate, routed and shared expert families of an experiment (A.2)."""
    gating = (SoftmaxGating() if experiment in ("a", "b")
              else NormalizedSigmoidGating())
    routed = (FFNExperts(activation="relu", fit_intercept=False, fit_bias=False)
              if experiment in ("a", "c") else LinearExperts())
    shared = (LinearExperts() if experiment == "b"
              else FFNExperts(activation="relu", fit_intercept=False))
    return gating, routed, shared


def deepseek_truth(experiment, *, x_dependent_gate=False):
    """True model of one of the DeepSeekMoE paper's synthetic experiments.

    One shared and two routed experts with one input feature (the paper draws
    ``X ~ Uniform[-3, 3]``: use ``x_distribution="uniform"``), shared weight
    1/2 and ``omega* = 1`` (Nguyen et al., arXiv:2505.10860, Appendix G.1;
    PAPERS.md section 5). ``tau`` and ``nu`` are variances.

    ====  ===================  ==================  ============================  ====
    exp   gate                 shared expert       routed experts                loss
    ====  ===================  ==================  ============================  ====
    a     softmax              -8 ReLU(6x), 0.25   4 ReLU(-12x), 4 ReLU(12x)     D1
    b     softmax              2x, 0.2             8x + 2, -6x + 1               D2
    c     normalized sigmoid   -8 ReLU(6x), 0.25   4 ReLU(-12x), 4 ReLU(12x)     D3
    d     normalized sigmoid   -8 ReLU(6x), 0.25   8x + 2, -6x + 1               D4
    ====  ===================  ==================  ============================  ====

    Routed variances ``nu = 0.4``. The printed gate rows ``(beta_1, beta_0)``
    are ``(5, -0.5)`` and ``(5, 0.5)`` in (a), (b), (d) and ``(0, -0.5)``,
    ``(0, 0.5)`` in (c) (the sparse regime: every true slope zero). Families
    (the paper's): the routed ReLU experts are ``eta_2 ReLU(eta_1 x)``,
    :class:`~skmoe.FFNExperts` ``(activation="relu", fit_intercept=False,
    fit_bias=False)``; the shared ReLU expert is ``kappa_2 ReLU(kappa_1 x +
    kappa_0)``, ``FFNExperts(activation="relu", fit_intercept=False)``;
    linear experts are :class:`~skmoe.LinearExperts`.

    **The identifiability convention A.2** (last routed row ``(0, 0)``) is
    kept where the printed truth allows it:

    - (a), (b): the softmax is shift-invariant, so the printed rows are
      written ``(0, -1)``, ``(0, 0)`` (the same distribution). Both slopes are
      5, so this gate does not depend on ``x``.
    - (c): the printed truth violates A.2. The same distribution under A.2
      has ``beta_0 = (logit(sigmoid(-0.5) / (2 sigmoid(0.5))), 0) =
      (-0.832, 0)`` (the constant scores rescaled so that the last is
      ``sigmoid(0)``); that is the truth returned, with
      ``NormalizedSigmoidGating()`` (pinned).
    - (d): the printed truth violates A.2 and, with non-zero slopes, has no
      form under it (the normalized sigmoid is not shift-invariant). It is
      returned as printed, with ``NormalizedSigmoidGating(pin_last=False)``:
      it generates the data of a misspecified fit, and its loss ``"D4"``
      compares the fitted routed atoms with a pinned reference fit, never
      with these.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    x_dependent_gate : bool, default=False
        For (a), (b) and (d): keep routed expert 1's printed row ``(5,
        -0.5)`` and give routed expert 2 the row ``(0, 0)`` that A.2
        prescribes, a gate that depends on ``x`` (routed expert 1 favoured
        for large ``x``: ``g_1(x) = sigmoid(5x - 0.5)`` for the softmax,
        from 0 to 2/3 for the normalized sigmoid) and follows A.2 in all
        three. Not defined for (c), whose sparse regime needs zero slopes.

    Returns
    -------
    truth : MoEParams
        The true model.

    See Also
    --------
    deepseek_estimator : The over-specified estimator fitted to it.

    Examples
    --------
    >>> from skmoe.convergence import deepseek_truth
    >>> truth = deepseek_truth("c")
    >>> truth.gate_intercept.round(3).tolist()
    [-0.832, 0.0]
    """
    _check_experiment(experiment)
    if x_dependent_gate and experiment == "c":
        raise ValueError(
            "x_dependent_gate=True is defined for experiments 'a', 'b' and 'd' "
            f"(experiment 'c' is the sparse regime, all slopes zero); got "
            f"experiment={experiment!r}."
        )
    gating, routed, shared_family = _deepseek_families(experiment)
    if experiment == "b":
        shared = dict(shared_params=[[2.0, 0.0]], shared_variance=[0.2])
    else:  # -8 ReLU(6x): [a, b, c, e]
        shared = dict(shared_params=[[-8.0, 6.0, 0.0, 0.0]],
                      shared_variance=[0.25])
    if experiment in ("a", "c"):
        expert_params = [[4.0, -12.0, 0.0, 0.0], [4.0, 12.0, 0.0, 0.0]]
    else:
        expert_params = [[8.0, 2.0], [-6.0, 1.0]]
    slopes, intercepts = ((0.0, 0.0) if experiment == "c" else (5.0, 5.0),
                          (-0.5, 0.5))
    if x_dependent_gate:
        slopes, intercepts = (5.0, 0.0), (-0.5, 0.0)
    elif experiment == "d":
        gating = NormalizedSigmoidGating(pin_last=False)
    params = MoEParams(
        gate_coef=np.array(slopes)[:, None], gate_intercept=intercepts,
        expert_params=expert_params, variance=[0.4, 0.4], gating=gating,
        experts=routed, shared_weights=[1.0], shared_weight=0.5,
        shared_experts=shared_family, **shared,
    )
    return params.replace(**params.gating.normalize(params))


def deepseek_estimator(experiment, *, gating=None, max_iter=1000, tol=1e-6):
    """The over-specified estimator of a DeepSeekMoE experiment.

    Two shared and three routed experts (the truth has one and two) of the
    paper's families (:func:`deepseek_truth`), fitted by EM with shared
    weight 1/2. The gate follows A.2: ``SoftmaxGating()`` in (a), (b) and
    the pinned ``NormalizedSigmoidGating()`` in (c), (d).

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    gating : Gating, default=None
        Gate of the fitted model; None uses the experiment's (for example
        ``NormalizedSigmoidGating(top_k=2)`` fits a sparse top-2 gate in
        experiment "c").
    max_iter : int, default=1000
        EM iterations at most (the paper's value).
    tol : float, default=1e-6
        EM tolerance (the paper's value).

    Returns
    -------
    estimator : MixtureOfExpertsRegressor
        Unfitted; start it near the truth with ``init_params``
        (:func:`near_true_init`, as :func:`sample_size_study` does).

    Examples
    --------
    >>> from skmoe.convergence import deepseek_estimator
    >>> est = deepseek_estimator("a")
    >>> est.n_experts, est.n_shared_experts
    (3, 2)
    """
    _check_experiment(experiment)
    default, routed, shared = _deepseek_families(experiment)
    return MixtureOfExpertsRegressor(
        3, n_shared_experts=2, shared_weight=0.5,
        gating=clone(default if gating is None else gating),
        experts=routed, shared_experts=shared, max_iter=max_iter, tol=tol,
    )


def _check_study_init(init):
    if init not in _INITS:
        raise ValueError(f"init must be one of {_INITS}; got {init!r}.")


def deepseek_reference(experiment, n_samples=100_000, *, x_dependent_gate=False,
                       init="near_true_authors", random_state=None):
    """Large-sample fit standing in for the KL projection of loss D4.

    In the dense regime of experiment (d) three normalized sigmoid atoms
    cannot represent the truth's two routed atoms, so the estimate converges
    to the KL projection ``G2-check`` of the truth onto the fitted model
    rather than to the truth; :func:`~skmoe.metrics.voronoi_loss`
    ``kind="D4"`` measures the routed atoms against it. The paper does not
    say how it computed ``G2-check``; this function approximates it by one
    fit of :func:`deepseek_estimator` on ``n_samples`` draws, **a fit of the
    same family and convention as the studied fits** (the pinned normalized
    sigmoid gate for (c) and (d)), started as the study starts its fits.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment (D4 is the loss of "d").
    n_samples : int, default=100_000
        Size of the reference sample; use ten times the largest ``n`` of the
        study or more, so that the reference's own error is small against
        the errors measured.
    x_dependent_gate : bool, default=False
        Use the truth whose gate depends on ``x`` (:func:`deepseek_truth`).
    init : {"near_true", "near_true_authors", "truth"}, \
            default="near_true_authors"
        Start of the fit (see :func:`sample_size_study`).
    random_state : int, RandomState instance or None, default=None
        Controls the sample, the start and the fit. Pass an int for
        reproducible output across multiple function calls.

    Returns
    -------
    reference : MoEParams
        The fitted parameters.

    Examples
    --------
    >>> from skmoe.convergence import deepseek_reference
    >>> deepseek_reference("b", 300, random_state=0).n_experts
    3
    """
    _check_study_init(init)
    if init == "random":
        raise ValueError("deepseek_reference starts near the truth; got "
                         "init='random'.")
    rng = check_random_state(random_state)
    truth = deepseek_truth(experiment, x_dependent_gate=x_dependent_gate)
    X, y = sample_moe_regression(truth, n_samples, x_distribution="uniform",
                                 random_state=rng)
    est = deepseek_estimator(experiment)
    start = near_true_init(
        truth, 3, n_shared_experts=2, gating=est.gating, experts=est.experts,
        shared_experts=est.shared_experts,
        recipe="authors" if init == "near_true_authors" else "skmoe",
        noise=0.0 if init == "truth" else 0.05, n_samples=n_samples,
        random_state=rng,
    )
    est.set_params(init_params=start, random_state=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y).params_


def deepseek_study(experiment, n_grid, n_replications, *, x_dependent_gate=False,
                   reference=None, reference_n=None, gating=None,
                   init="near_true_authors", max_iter=1000, tol=1e-6, n_jobs=-1,
                   random_state=None, verbose=0):
    """Run one of the DeepSeekMoE paper's convergence-rate experiments.

    :func:`sample_size_study` of :func:`deepseek_estimator` on data from
    :func:`deepseek_truth` with ``X ~ Uniform[-3, 3]``, every fit started
    near the truth, recording the experiment's Voronoi loss as the paper
    defines it (raw parameters; ``"D1"``, ``"D2"``, ``"D3"`` or, for (d),
    ``"D4"`` against ``reference``), the same loss on canonical parameters
    (column ``"<loss>_canonical"``, a package option, for comparison) and
    the regression distance. The paper's exponent of the loss on ``log(n) /
    n`` is ``DEEPSEEK_REPORTED_RATES[experiment]``
    (``study.rate(scale="log_n_over_n")`` measures ours); its grid is ``n``
    from ``1e2`` to ``1e5`` with 40 replications
    (:data:`DEEPSEEK_FULL_GRID`), ``tol=1e-6`` and ``max_iter=1000``.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    n_grid : sequence of int
        Sample sizes.
    n_replications : int
        Replications per sample size.
    x_dependent_gate : bool, default=False
        Use the truth whose gate depends on ``x`` (experiments "a", "b" and
        "d", see :func:`deepseek_truth`).
    reference : MoEParams, default=None
        Reference model of ``"D4"`` (only used by experiment "d"): a fit of
        the pinned family. None fits :func:`deepseek_reference` with
        ``reference_n`` samples, the study's start and a seed derived from
        ``random_state``.
    reference_n : int, default=None
        Sample size of that reference; None is ten times the largest ``n``
        of the grid, at least ``100_000``.
    gating : Gating, default=None
        Gate of the fitted model (:func:`deepseek_estimator`); None uses the
        experiment's.
    init : {"near_true_authors", "near_true", "truth", "random"}, \
            default="near_true_authors"
        Start of every fit (see :func:`sample_size_study`): by default the
        authors' near-true recipe from their public code for the softmax
        paper (the DeepSeekMoE paper does not say how EM was started);
        ``"near_true"`` is skmoe's recipe.
    max_iter : int, default=1000
        EM iterations at most.
    tol : float, default=1e-6
        EM tolerance.
    n_jobs : int, default=-1
        Number of joblib workers.
    random_state : int, RandomState instance or None, default=None
        Root of the seeds. Pass an int for reproducible output across
        multiple function calls.
    verbose : int, default=0
        joblib progress messages when positive.

    Returns
    -------
    study : SampleSizeStudy
        Loss columns: the experiment's loss (raw), the same on canonical
        parameters, then ``"regression"``; ``study.init`` records the start.

    Examples
    --------
    >>> from skmoe.convergence import deepseek_study
    >>> study = deepseek_study("b", [100, 200], 2, n_jobs=1, random_state=0)
    >>> study.losses, study.init
    (['D2', 'D2_canonical', 'regression'], 'near_true_authors')
    """
    _check_experiment(experiment)
    _check_study_init(init)
    truth = deepseek_truth(experiment, x_dependent_gate=x_dependent_gate)
    kind = DEEPSEEK_LOSSES[experiment]
    if kind == "D4" and reference is None:
        n_ref = (max(100_000, 10 * max(n_grid)) if reference_n is None
                 else reference_n)
        seed = np.random.SeedSequence(_task_seeds(random_state),
                                      spawn_key=(2**20,)).generate_state(1)[0]
        reference = deepseek_reference(
            experiment, n_ref, x_dependent_gate=x_dependent_gate,
            init="near_true" if init == "random" else init,
            random_state=int(seed))
    loss = [_VoronoiLoss(kind, "raw", reference),
            _VoronoiLoss(kind, "canonical", reference), "regression"]
    return sample_size_study(
        deepseek_estimator(experiment, gating=gating, max_iter=max_iter,
                           tol=tol),
        truth, n_grid, n_replications, loss=loss, init=init,
        x_distribution="uniform", n_jobs=n_jobs, random_state=random_state,
        verbose=verbose,
    )


def deepseek_report(study, experiment, *, n_boot=1000, random_state=0,
                    n_min=None):
    """Measured exponents of a DeepSeekMoE study next to the paper's.

    Parameters
    ----------
    study : SampleSizeStudy
        Result of :func:`deepseek_study`.
    experiment : {"a", "b", "c", "d"}
        Which experiment (for the paper's exponent).
    n_boot : int, default=1000
        Bootstrap resamples of :meth:`SampleSizeStudy.rate`.
    random_state : int, RandomState instance or None, default=0
        Controls the resampling.
    n_min : int, default=None
        Fit only ``n >= n_min``.

    Returns
    -------
    report : str
        One line per loss: the exponent of the mean loss on ``log(n) / n``
        with its 95% bootstrap interval, the grid, the replications (reps)
        and the start; the paper's exponent on the line of the experiment's
        Voronoi loss.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.convergence import SampleSizeStudy, deepseek_report
    >>> rows = [{"n": n, "replication": r, "D2": np.sqrt(np.log(n) / n)}
    ...         for n in (100, 1000) for r in range(2)]
    >>> report = deepseek_report(SampleSizeStudy(rows, ["D2"]), "b", n_boot=0)
    >>> print(report.split("; ")[0])
    D2: 0.500 [nan, nan] on log(n)/n (paper 0.517)
    """
    _check_experiment(experiment)
    ns = sorted({row["n"] for row in study.table
                 if n_min is None or row["n"] >= n_min})
    reps = sum(1 for row in study.table if row["n"] == ns[0])
    lines = []
    for loss in study.losses:
        r = study.rate(loss, scale="log_n_over_n", n_boot=n_boot,
                       random_state=random_state, n_min=n_min)
        paper = (f" (paper {DEEPSEEK_REPORTED_RATES[experiment]})"
                 if loss == DEEPSEEK_LOSSES[experiment] else "")
        lines.append(
            f"{loss}: {r['slope']:.3f} [{r['ci_low']:.3f}, "
            f"{r['ci_high']:.3f}] on log(n)/n{paper}; n {ns[0]}..{ns[-1]} "
            f"({len(ns)} sizes) x {reps} reps, start {study.init}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Two headline contrasts of the softmax-gating papers (PAPERS.md section 4)
# --------------------------------------------------------------------------
def exact_softmax_truth():
    """The exactly specified softmax Gaussian MoE of the authors' public code.

    Model 1 of CRPE-SGaME (the simulation code of the NeurIPS 2023
    softmax-gating paper, arXiv:2305.03288): two linear experts ``15 - 20 t``
    and ``-5 + 20 t`` with variances 0.3 and 0.4 under the gate ``softmax(25 t
    - 8, 0)``, a Lambda shape with little overlap, for ``t`` in ``[0, 1]``.
    Written here for ``x = 6 t - 3``, uniform on ``[-3, 3]`` (the
    ``x_distribution="uniform"`` of :func:`sample_size_study`): experts
    ``-10/3 x + 5`` and ``10/3 x + 5``, gate rows ``(25/6, 4.5)`` and
    ``(0, 0)`` -- the same model.

    Returns
    -------
    truth : MoEParams
        Softmax gate, :class:`~skmoe.LinearExperts`, two experts.

    Examples
    --------
    >>> from skmoe.convergence import exact_softmax_truth
    >>> exact_softmax_truth().gate_coef.ravel().round(4).tolist()
    [4.1667, 0.0]
    """
    return MoEParams(
        gate_coef=[[25.0 / 6.0], [0.0]], gate_intercept=[4.5, 0.0],
        expert_params=[[-10.0 / 3.0, 5.0], [10.0 / 3.0, 5.0]],
        variance=[0.3, 0.4],
    )


def exact_softmax_study(n_grid, n_replications, *, init="near_true_authors",
                        max_iter=2000, tol=1e-6, n_jobs=-1, random_state=None,
                        verbose=0):
    """Exactly specified softmax Gaussian MoE with linear experts: rate ``n^-1/2``.

    Maximum likelihood (EM, at most 2000 iterations, relative tolerance
    ``1e-6``, as the authors' code) of two experts on data from
    :func:`exact_softmax_truth`, ``X ~ U[-3, 3]``. Every Voronoi cell holds one
    atom, so ``"D1"`` is first order in every parameter and the theory gives
    ``D1 = O_P(n^-1/2)`` up to a log factor (Nguyen et al., NeurIPS 2023;
    PAPERS.md section 4): ``study.rate("D1")`` should be near -1/2. The
    authors' own stored results for this model give -0.638.

    Parameters
    ----------
    n_grid : sequence of int
        Sample sizes.
    n_replications : int
        Replications per sample size.
    init : {"near_true_authors", "near_true", "truth", "random"}, \
            default="near_true_authors"
        Start of every fit (see :func:`sample_size_study`).
    max_iter : int, default=2000
        EM iterations at most.
    tol : float, default=1e-6
        EM tolerance.
    n_jobs : int, default=-1
        Number of joblib workers.
    random_state : int, RandomState instance or None, default=None
        Root of the seeds.
    verbose : int, default=0
        joblib progress messages when positive.

    Returns
    -------
    study : SampleSizeStudy
        Loss columns ``"D1"``, ``"regression"``.

    Examples
    --------
    >>> from skmoe.convergence import exact_softmax_study
    >>> exact_softmax_study([100, 200], 2, n_jobs=1, random_state=0).losses
    ['D1', 'regression']
    """
    _check_study_init(init)
    return sample_size_study(
        MixtureOfExpertsRegressor(2, max_iter=max_iter, tol=tol),
        exact_softmax_truth(), n_grid, n_replications,
        loss=["D1", "regression"], init=init, x_distribution="uniform",
        n_jobs=n_jobs, random_state=random_state, verbose=verbose,
    )


class _LeastSquaresLoss:
    """``"D1"`` without the variance terms (least squares has no ``nu``)."""

    __name__ = "D1_no_variance"

    def __call__(self, estimated, true):
        same = estimated.replace(
            variance=np.full(estimated.n_experts, true.variance[0]))
        return voronoi_loss(same, true, kind="D1")


def least_squares_truth(experts):
    """Truth of the least-squares contrast of FFN and linear experts.

    Two experts under the softmax gate with rows ``(2, 0)`` and ``(0, 0)``
    (A.2), noise variance 0.25, ``X ~ U[-3, 3]``; the experts are either two
    tanh units without output intercept, ``2 tanh(1.5 x + 1)`` and ``-2
    tanh(x - 1)`` (``experts="ffn"``, strongly identifiable), or two lines
    ``1.5 x + 1`` and ``-x - 1`` (``experts="linear"``). A design of skmoe's
    for the contrast of Nguyen, Ho and Rinaldo (arXiv:2503.03213), whose
    experiments are not reproduced here.

    Parameters
    ----------
    experts : {"ffn", "linear"}
        Which experts.

    Returns
    -------
    truth : MoEParams
        The true model.

    Examples
    --------
    >>> from skmoe.convergence import least_squares_truth
    >>> least_squares_truth("linear").expert_params.tolist()
    [[1.5, 1.0], [-1.0, -1.0]]
    """
    if experts == "ffn":
        family = FFNExperts(activation="tanh", fit_intercept=False)
        rows = [[2.0, 1.5, 1.0, 0.0], [-2.0, 1.0, -1.0, 0.0]]
    elif experts == "linear":
        family, rows = "linear", [[1.5, 1.0], [-1.0, -1.0]]
    else:
        raise ValueError(f"experts must be 'ffn' or 'linear'; got {experts!r}.")
    return MoEParams(gate_coef=[[2.0], [0.0]], gate_intercept=[0.0, 0.0],
                     expert_params=rows, variance=[0.25, 0.25], experts=family)


def least_squares_study(experts, n_grid, n_replications, *, n_experts=3,
                        init="near_true", max_iter=2000, n_jobs=-1,
                        random_state=None, verbose=0):
    """Least squares with FFN or linear experts: polynomial against slower rates.

    Fits ``n_experts`` experts (one more than the truth by default: an
    over-fitted cell) of :func:`least_squares_truth`'s family by least
    squares (``objective="least_squares"``, L-BFGS, from a near-true start)
    and records ``"D1_no_variance"`` (:func:`~skmoe.metrics.voronoi_loss`
    ``"D1"`` with the variance terms removed, as least squares estimates no
    expert variance) and the regression distance. Softmax gating with
    strongly identifiable (FFN) experts learns its parameters at polynomial
    rates (``n^-1/4`` for over-fitted atoms, so ``D1 ~ n^-1/2``); with
    linear experts the interaction of gate and expert parameters (a PDE)
    makes them slower than any polynomial (Nguyen, Ho, Rinaldo,
    arXiv:2503.03213; PAPERS.md section 4). The same loss on the same grid
    shows the difference.

    Parameters
    ----------
    experts : {"ffn", "linear"}
        Which experts.
    n_grid : sequence of int
        Sample sizes.
    n_replications : int
        Replications per sample size.
    n_experts : int, default=3
        Fitted experts.
    init : {"near_true", "near_true_authors", "truth", "random"}, \
            default="near_true"
        Start of every fit (see :func:`sample_size_study`).
    max_iter : int, default=2000
        L-BFGS iterations at most.
    n_jobs : int, default=-1
        Number of joblib workers.
    random_state : int, RandomState instance or None, default=None
        Root of the seeds.
    verbose : int, default=0
        joblib progress messages when positive.

    Returns
    -------
    study : SampleSizeStudy
        Loss columns ``"D1_no_variance"``, ``"regression"``.

    Examples
    --------
    >>> from skmoe.convergence import least_squares_study
    >>> least_squares_study("linear", [100, 200], 2, n_jobs=1,
    ...                     random_state=0).losses
    ['D1_no_variance', 'regression']
    """
    _check_study_init(init)
    truth = least_squares_truth(experts)
    est = MixtureOfExpertsRegressor(
        n_experts, experts=clone(truth.experts), objective="least_squares",
        solver="lbfgs", max_iter=max_iter,
    )
    return sample_size_study(
        est, truth, n_grid, n_replications,
        loss=[_LeastSquaresLoss(), "regression"], init=init,
        x_distribution="uniform", n_jobs=n_jobs, random_state=random_state,
        verbose=verbose,
    )


# --------------------------------------------------------------------------
# Everything the docs' page "Reproducing the papers" reports
# --------------------------------------------------------------------------
#: name -> (description, paper's exponent or None, scale of the exponent)
PAPER_STUDIES = {
    "a": ("DeepSeekMoE (a): softmax, ReLU experts, D1", 0.451, "log_n_over_n"),
    "a_x": ("(a) with an x-dependent gate", 0.451, "log_n_over_n"),
    "b": ("DeepSeekMoE (b): softmax, linear experts, D2", 0.517, "log_n_over_n"),
    "b_x": ("(b) with an x-dependent gate", 0.517, "log_n_over_n"),
    "c": ("DeepSeekMoE (c): normalized sigmoid, sparse, ReLU, D3", 0.46,
          "log_n_over_n"),
    "d": ("DeepSeekMoE (d): normalized sigmoid, dense, linear, D4", 0.552,
          "log_n_over_n"),
    "d_x": ("(d) with an x-dependent, A.2 gate", 0.552, "log_n_over_n"),
    "exact_softmax": ("exactly specified softmax Gaussian MoE, linear experts, "
                      "D1 (theory -1/2 on log n)", None, "log_n"),
    "ls_ffn": ("least squares, FFN experts, over-specified, D1 (theory -1/2 "
               "on log n)", None, "log_n"),
    "ls_linear": ("least squares, linear experts, over-specified, D1 (theory: "
                  "slower than any polynomial)", None, "log_n"),
}

#: the short grid of the gallery scripts and of the reduced reproduction
SHORT_GRID = ([100, 316, 1000], 3)


def paper_study(name, n_grid, n_replications, *, init=None, n_jobs=-1,
                random_state=0, verbose=0, reference_n=None):
    """Run one of the studies of :data:`PAPER_STUDIES` by name.

    Parameters
    ----------
    name : str
        A key of :data:`PAPER_STUDIES`: ``"a"``, ``"b"``, ``"c"``, ``"d"``
        (:func:`deepseek_study` as printed), ``"a_x"``, ``"b_x"``, ``"d_x"``
        (with the x-dependent gate), ``"exact_softmax"``
        (:func:`exact_softmax_study`), ``"ls_ffn"``, ``"ls_linear"``
        (:func:`least_squares_study`).
    n_grid : sequence of int
        Sample sizes.
    n_replications : int
        Replications per sample size.
    init : str, default=None
        Start of the fits; None uses the study's default.
    n_jobs : int, default=-1
        Number of joblib workers.
    random_state : int, default=0
        Root of the seeds.
    verbose : int, default=0
        joblib progress messages when positive.
    reference_n : int, default=None
        Reference sample size of ``"d"`` and ``"d_x"`` (see
        :func:`deepseek_study`).

    Returns
    -------
    study : SampleSizeStudy
        The study; its first loss column is the one the exponent is read
        from, on the scale ``PAPER_STUDIES[name][2]``.

    Examples
    --------
    >>> from skmoe.convergence import paper_study
    >>> paper_study("b", [100, 200], 2, n_jobs=1).losses[0]
    'D2'
    """
    if name not in PAPER_STUDIES:
        raise ValueError(
            f"name must be one of {sorted(PAPER_STUDIES)}; got {name!r}."
        )
    kw = dict(n_jobs=n_jobs, random_state=random_state, verbose=verbose)
    if init is not None:
        kw["init"] = init
    if name == "exact_softmax":
        return exact_softmax_study(n_grid, n_replications, **kw)
    if name.startswith("ls_"):
        return least_squares_study(name[3:], n_grid, n_replications, **kw)
    return deepseek_study(name[0], n_grid, n_replications,
                          x_dependent_gate=name.endswith("_x"),
                          reference_n=reference_n, **kw)
