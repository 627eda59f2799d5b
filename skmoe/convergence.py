"""Sample-size studies: how fast does an estimator learn its parameters?"""

import csv
import time
import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._estimator import MixtureOfExpertsRegressor
from ._params import MoEParams
from .datasets import sample_moe_regression
from .experts import FFNExperts
from .gating import NormalizedSigmoidGating, SoftmaxGating
from .metrics import (
    density_distance,
    parameter_error,
    regression_distance,
    voronoi_loss,
)
from .utils._abilities import Requirements, check_requirements

_INITS = ("near_true", "random", "truth")
_N_EVAL = 1000  # inputs drawn per task for "regression" and "hellinger"


def _sum_parameter_error(estimated, true):
    err = parameter_error(estimated, true)
    return float(sum(v.sum() for k, v in err.items() if not k.endswith("index")))


def _named_losses(loss):
    """``(name, function(estimated, true, X_eval))`` for every requested loss."""
    if loss is None:
        loss = ("voronoi",)
    if isinstance(loss, str) or callable(loss):
        loss = (loss,)
    out = []
    for item in loss:
        if callable(item):
            name = getattr(item, "__name__", "loss")
            out.append((name, lambda e, t, X, f=item: float(f(e, t))))
        elif item == "voronoi":
            out.append(("voronoi", lambda e, t, X: voronoi_loss(e, t)))
        elif item in ("D1", "D2", "D3"):
            out.append((item, lambda e, t, X, k=item: voronoi_loss(e, t, kind=k)))
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
                f"'parameter_error', 'regression', 'hellinger'; got {item!r}."
            )
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"loss names must be distinct; got {names}.")
    return out


#: what a near-true start needs of the truth's gate: atoms whose weights
#: can be split between the copies of a true expert
NEAR_TRUE = Requirements("near_true_init", gating=("atoms",))


def near_true_init(true_params, n_experts, *, n_shared_experts=0, gating=None,
                   experts=None, shared_experts=None, shared_weight=None,
                   noise=0.05, random_state=None):
    """A start near the truth for an exactly- or over-specified model.

    Fitted atom ``i < K*`` is a copy of true atom ``i``; each further atom
    copies a true atom drawn at random, so that every true atom is covered.
    The atoms sharing a true atom split its weight equally (gate intercepts
    ``beta_0 - log m`` for a softmax gate, ``logit(sigmoid(beta_0) / m)`` for
    a normalized sigmoid gate, ``omega / m`` for shared experts). Then gate
    slopes and intercepts and expert parameters receive independent
    ``N(0, noise^2)`` perturbations and variances are multiplied by
    ``exp(N(0, noise^2))`` (the "near true" start of the convergence-rate
    experiments, PAPERS.md section 5).

    Parameters
    ----------
    true_params : MoEParams
        The truth.
    n_experts : int
        Number of fitted routed experts, at least ``true_params.n_experts``.
    n_shared_experts : int, default=0
        Number of fitted shared experts (0, or at least the true number).
    gating, experts, shared_experts : str or Gating/Experts, default=None
        Families of the start; None uses the truth's.
    shared_weight : float, default=None
        Shared weight of the start; None uses the truth's.
    noise : float, default=0.05
        Standard deviation of the perturbations; 0 gives the truth itself
        when the sizes agree.
    random_state : int, RandomState instance or None, default=None
        Controls the extra assignments and the noise. Pass an int for
        reproducible output across multiple function calls.

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
    """
    rng = check_random_state(random_state)
    K_true = true_params.n_experts
    if n_experts < K_true:
        raise ValueError(
            f"near-true starts need n_experts >= the true number {K_true}; got "
            f"n_experts={n_experts}."
        )
    check_requirements(NEAR_TRUE, gating=true_params.gating,
                       n_experts=true_params.n_experts)
    idx = np.concatenate([np.arange(K_true),
                          rng.randint(0, K_true, n_experts - K_true)])
    counts = np.bincount(idx, minlength=K_true)[idx]
    d = true_params.n_features

    def jitter(a):
        return a + noise * rng.standard_normal(a.shape)

    fields = dict(
        gate_coef=jitter(true_params.gate_coef[idx]),
        gate_intercept=jitter(true_params.gating.split_atoms(
            true_params.gate_intercept[idx], counts)),
        expert_params=jitter(true_params.expert_params[idx]),
        variance=true_params.variance[idx]
        * np.exp(noise * rng.standard_normal(idx.size)),
        gating=true_params.gating if gating is None else gating,
        experts=true_params.experts if experts is None else experts,
    )
    if n_experts == 1:
        fields["gate_coef"] = np.zeros((1, d))
        fields["gate_intercept"] = np.zeros(1)
    S_true = true_params.n_shared_experts
    if n_shared_experts:
        if n_shared_experts < S_true or not S_true:
            raise ValueError(
                "near-true starts need n_shared_experts >= the true number "
                f"{S_true} (and a truth with shared experts); got "
                f"n_shared_experts={n_shared_experts}."
            )
        sidx = np.concatenate([np.arange(S_true),
                               rng.randint(0, S_true, n_shared_experts - S_true)])
        scounts = np.bincount(sidx, minlength=S_true)[sidx]
        fields.update(
            shared_params=jitter(true_params.shared_params[sidx]),
            shared_variance=true_params.shared_variance[sidx]
            * np.exp(noise * rng.standard_normal(sidx.size)),
            shared_weights=true_params.shared_weights[sidx] / scounts,
            shared_weight=(true_params.shared_weight if shared_weight is None
                           else shared_weight),
            shared_experts=(true_params.shared_experts if shared_experts is None
                            else shared_experts),
        )
    return MoEParams(**fields)


def _task_seeds(random_state):
    """Root entropy for the per-task seed sequences."""
    if random_state is None:
        return np.random.SeedSequence().entropy
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _one_task(estimator, true_params, n, n_index, rep, entropy, init, noise,
              x_distribution, losses):
    seq = np.random.SeedSequence(entropy, spawn_key=(n_index, rep))
    data_seed, init_seed, fit_seed, eval_seed = seq.generate_state(4)
    objective = estimator.get_params().get("objective", "likelihood")
    X, y = sample_moe_regression(true_params, n, x_distribution=x_distribution,
                                 objective=objective,
                                 random_state=int(data_seed))
    est = clone(estimator)
    est.set_params(random_state=int(fit_seed))
    if init != "random":
        p = est.get_params()
        est.set_params(init_params=near_true_init(
            true_params, p["n_experts"],
            n_shared_experts=p.get("n_shared_experts", 0),
            gating=p["gating"], experts=p["experts"],
            shared_experts=p.get("shared_experts"),
            shared_weight=p.get("shared_weight"),
            noise=0.0 if init == "truth" else noise,
            random_state=int(init_seed),
        ))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # recorded in the "converged" column instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    seconds = time.perf_counter() - t0
    rng = np.random.RandomState(int(eval_seed) % (2**31))
    X_eval, _ = sample_moe_regression(true_params, _N_EVAL,
                                      x_distribution=x_distribution,
                                      random_state=rng)
    row = {"n": int(n), "replication": int(rep)}
    for name, fun in losses:
        row[name] = float(fun(est.params_, true_params, X_eval))
    row.update(n_iter=int(est.n_iter_), converged=bool(est.converged_),
               seconds=float(seconds))
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
    depend on ``n_jobs`` or on the order of execution.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        Unfitted estimator; its ``random_state`` (and, unless
        ``init="random"``, its ``init_params``) are set per task.
    true_params : MoEParams
        The truth.
    n_grid : sequence of int
        Sample sizes, each at least 2.
    n_replications : int
        Replications per sample size.
    loss : str, callable or sequence of them, default=None
        Losses recorded per fit: ``"voronoi"`` (:func:`skmoe.metrics.voronoi_loss`
        with ``kind="auto"``), ``"D1"``, ``"D2"``, ``"D3"`` (that kind),
        ``"parameter_error"`` (sum of the matched errors of
        :func:`skmoe.metrics.parameter_error`), ``"regression"``
        (:func:`skmoe.metrics.regression_distance` on 1000 fresh inputs),
        ``"hellinger"`` (:func:`skmoe.metrics.density_distance` on 200 fresh
        inputs, 401 grid points) or a callable ``f(estimated, true) ->
        float`` (column named by its ``__name__``). None means
        ``("voronoi",)``.
    init : {"near_true", "random", "truth"}, default="near_true"
        Start of every fit. ``"near_true"``: :func:`near_true_init` with
        noise ``init_noise`` (every fitted atom assigned to a true atom,
        every true atom covered); ``"truth"``: the same without noise;
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
        :meth:`SampleSizeStudy.plot`.

    Notes
    -----
    :class:`~sklearn.exceptions.ConvergenceWarning` raised by a fit is not
    propagated: the ``converged`` column records it.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.convergence import sample_size_study
    >>> from skmoe.datasets import make_moe_regression
    >>> _, _, truth = make_moe_regression(10, 1, 1, random_state=0)
    >>> study = sample_size_study(MixtureOfExpertsRegressor(1), truth,
    ...                           [100, 400], 2, loss="parameter_error",
    ...                           n_jobs=1, random_state=0)
    >>> len(study.table)
    4
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
    entropy = _task_seeds(random_state)
    tasks = [(n, i, r) for i, n in enumerate(n_grid) for r in range(n_replications)]
    rows = Parallel(n_jobs=n_jobs, verbose=verbose)(
        delayed(_one_task)(estimator, true_params, n, i, r, entropy, init,
                           init_noise, x_distribution, losses)
        for n, i, r in tasks
    )
    return SampleSizeStudy(rows, [name for name, _ in losses])


class SampleSizeStudy:
    """Results of :func:`sample_size_study`.

    Parameters
    ----------
    table : list of dict
        One row per ``(n, replication)``: ``n``, ``replication``, one column
        per loss, ``n_iter``, ``converged`` and ``seconds``.
    losses : list of str
        Names of the loss columns.

    Attributes
    ----------
    table : list of dict
        The raw results (``pandas.DataFrame(study.table)`` gives a frame).
    losses : list of str
        Names of the loss columns.
    """

    def __init__(self, table, losses):
        self.table = list(table)
        self.losses = list(losses)

    def __repr__(self):
        ns = sorted({row["n"] for row in self.table})
        return (f"SampleSizeStudy(n_grid={ns}, n_rows={len(self.table)}, "
                f"losses={self.losses})")

    def _loss_name(self, loss):
        if loss is None:
            return self.losses[0]
        if loss not in self.losses:
            raise ValueError(f"loss must be one of {self.losses}; got {loss!r}.")
        return loss

    def _by_n(self, loss):
        loss = self._loss_name(loss)
        ns = np.array(sorted({row["n"] for row in self.table}))
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
             random_state=None):
        """Slope of the log mean loss, with a bootstrap confidence interval.

        Least-squares slope of ``log(mean loss)`` on ``log n``
        (``scale="log_n"``; -1/2 for a root-n rate) or on ``log(log n / n)``
        (``scale="log_n_over_n"``; +1/2 for a ``sqrt(log n / n)`` rate, the
        scale of the DeepSeekMoE paper's reported exponents). The interval
        is the percentile interval of the slopes obtained by resampling the
        replications with replacement within each sample size.

        Parameters
        ----------
        loss : str, default=None
            Loss column; None is the first.
        scale : {"log_n", "log_n_over_n"}, default="log_n"
            Abscissa of the regression.
        n_boot : int, default=1000
            Bootstrap resamples (0: no interval, NaN bounds).
        confidence : float, default=0.95
            Level of the interval.
        random_state : int, RandomState instance or None, default=None
            Controls the resampling. Pass an int for reproducible output
            across multiple function calls.

        Returns
        -------
        rate : dict
            ``"slope"``, ``"intercept"``, ``"ci_low"``, ``"ci_high"``,
            ``"scale"`` and ``"loss"``.
        """
        if scale not in ("log_n", "log_n_over_n"):
            raise ValueError(
                f"scale must be 'log_n' or 'log_n_over_n'; got {scale!r}."
            )
        name = self._loss_name(loss)
        ns, values = self._by_n(name)
        if ns.size < 2:
            raise ValueError("rate needs at least two sample sizes.")
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
        if n_boot:
            rng = check_random_state(random_state)
            boots = np.array([
                fit(np.array([v[rng.randint(0, v.size, v.size)].mean()
                              for v in values]))[0]
                for _ in range(int(n_boot))
            ])
            alpha = (1 - confidence) / 2
            lo, hi = (float(q) for q in np.quantile(boots, [alpha, 1 - alpha]))
        return {"slope": slope, "intercept": intercept, "ci_low": lo,
                "ci_high": hi, "scale": scale, "loss": name}

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

    def to_csv(self, path):
        """Write the table as CSV (one header row).

        Parameters
        ----------
        path : str or path-like
            Destination file.
        """
        header = ["n", "replication", *self.losses, "n_iter", "converged",
                  "seconds"]
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(self.table)


# --------------------------------------------------------------------------
# The DeepSeekMoE paper's synthetic experiments (PAPERS.md section 5)
# --------------------------------------------------------------------------
#: exponents of the loss on ``log(n) / n`` reported by arXiv:2505.10860
DEEPSEEK_REPORTED_RATES = {"a": 0.451, "b": 0.517, "c": 0.46, "d": 0.552}

#: loss of each experiment (``"D4"`` needs a reference fit)
DEEPSEEK_LOSSES = {"a": "D1", "b": "D2", "c": "D3", "d": "D4"}

# routed-gate slopes of the truth whose gate depends on x: routed expert 1
# (4 ReLU(-12 x) or 8 x + 2) favoured for x < 0, routed expert 2 for x > 0
_X_DEPENDENT_SLOPES = (-5.0, 5.0)


def _check_experiment(experiment):
    if experiment not in DEEPSEEK_REPORTED_RATES:
        raise ValueError(
            "experiment must be one of 'a', 'b', 'c', 'd'; got "
            f"{experiment!r}."
        )


def deepseek_truth(experiment, *, x_dependent_gate=False):
    """True model of one of the DeepSeekMoE paper's synthetic experiments.

    One shared and two routed experts with one input feature (the paper draws
    ``X ~ Uniform[-3, 3]``: use ``x_distribution="uniform"``), shared weight
    1/2 and ``omega* = 1`` (Nguyen et al., arXiv:2505.10860, section 5 of
    PAPERS.md). ``tau`` and ``nu`` are variances.

    ====  ===================  ==================  ============================  ====
    exp   gate                 shared expert       routed experts                loss
    ====  ===================  ==================  ============================  ====
    a     softmax              -8 ReLU(6x), 0.25   4 ReLU(-12x), 4 ReLU(12x)     D1
    b     softmax              2x, 0.2             8x + 2, -6x + 1               D2
    c     normalized sigmoid   -8 ReLU(6x), 0.25   4 ReLU(-12x), 4 ReLU(12x)     D3
    d     normalized sigmoid   -8 ReLU(6x), 0.25   8x + 2, -6x + 1               D4
    ====  ===================  ==================  ============================  ====

    Routed gate intercepts ``beta_0 = (-0.5, 0.5)``, routed variances
    ``nu = 0.4``; gate slopes ``beta_1 = (5, 5)`` in (a), (b), (d) and
    ``(0, 0)`` in (c) (the "sparse regime" of the normalized sigmoid gate,
    in which every true slope is zero). ReLU experts are
    :class:`~skmoe.FFNExperts` ``(activation="relu", fit_intercept=False)``
    with zero hidden bias for the routed ones; linear experts are
    :class:`~skmoe.LinearExperts`.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    x_dependent_gate : bool, default=False
        In (a) and (b) both routed slopes are 5, so after the softmax's shift
        normalisation the true gate does not depend on ``x``. True replaces
        the slopes by ``(-5, 5)`` (routed expert 1 favoured for ``x < 0``,
        routed expert 2 for ``x > 0``), a gate that does depend on ``x``.
        Only for (a) and (b).

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
    >>> truth = deepseek_truth("b")
    >>> truth.n_experts, truth.n_shared_experts, truth.n_features
    (2, 1, 1)
    """
    _check_experiment(experiment)
    if x_dependent_gate and experiment not in ("a", "b"):
        raise ValueError(
            "x_dependent_gate=True is defined for experiments 'a' and 'b' "
            f"only; got experiment={experiment!r}."
        )
    relu = FFNExperts(activation="relu", fit_intercept=False)
    relu_experts = experiment in ("a", "c")
    if experiment == "b":
        shared = dict(shared_params=[[2.0, 0.0]], shared_variance=[0.2],
                      shared_experts="linear")
    else:  # -8 ReLU(6x): [a, b, c, e]
        shared = dict(shared_params=[[-8.0, 6.0, 0.0, 0.0]],
                      shared_variance=[0.25], shared_experts=relu)
    if relu_experts:
        experts, expert_params = relu, [[4.0, -12.0, 0.0, 0.0],
                                        [4.0, 12.0, 0.0, 0.0]]
    else:
        experts, expert_params = "linear", [[8.0, 2.0], [-6.0, 1.0]]
    slopes = (0.0, 0.0) if experiment == "c" else (5.0, 5.0)
    if x_dependent_gate:
        slopes = _X_DEPENDENT_SLOPES
    gating = SoftmaxGating() if experiment in ("a", "b") else NormalizedSigmoidGating()
    params = MoEParams(
        gate_coef=np.array(slopes)[:, None], gate_intercept=[-0.5, 0.5],
        expert_params=expert_params, variance=[0.4, 0.4], gating=gating,
        experts=experts, shared_weights=[1.0], shared_weight=0.5, **shared,
    )
    return params.replace(**params.gating.normalize(params))


def deepseek_estimator(experiment, *, gating=None, max_iter=1000, tol=1e-6):
    """The over-specified estimator of a DeepSeekMoE experiment.

    Two shared and three routed experts (the truth has one and two), of the
    truth's families and gate (:func:`deepseek_truth`), fitted by EM with
    shared weight 1/2.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    gating : Gating, default=None
        Gate of the fitted model; None uses the truth's family (for example
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
    truth = deepseek_truth(experiment)
    return MixtureOfExpertsRegressor(
        3, n_shared_experts=2, shared_weight=0.5,
        gating=clone(truth.gating if gating is None else gating),
        experts=clone(truth.experts), shared_experts=clone(truth.shared_experts),
        max_iter=max_iter, tol=tol,
    )


class _ReferenceLoss:
    """``voronoi_loss(estimated, true, kind="D4", reference=...)``, picklable."""

    __name__ = "D4"

    def __init__(self, reference):
        self.reference = reference

    def __call__(self, estimated, true):
        return voronoi_loss(estimated, true, kind="D4", reference=self.reference)


def deepseek_reference(experiment, n_samples=100_000, *, random_state=None):
    """Large-sample fit standing in for the KL projection of loss D4.

    In experiment (d) the truth's two routed atoms cannot be written with
    three normalized sigmoid atoms at finite parameters, so the estimate
    converges to the KL projection of the truth onto the over-specified
    model rather than to the truth; :func:`~skmoe.metrics.voronoi_loss`
    ``kind="D4"`` measures the distance to that projection, approximated
    here (PAPERS.md section 4) by one fit of :func:`deepseek_estimator` on
    ``n_samples`` draws started near the truth.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment (D4 is the loss of "d").
    n_samples : int, default=100_000
        Size of the reference sample.
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
    rng = check_random_state(random_state)
    truth = deepseek_truth(experiment)
    X, y = sample_moe_regression(truth, n_samples, x_distribution="uniform",
                                 random_state=rng)
    est = deepseek_estimator(experiment).set_params(
        init_params=near_true_init(truth, 3, n_shared_experts=2,
                                   random_state=rng),
        random_state=rng,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y).params_


def deepseek_study(experiment, n_grid, n_replications, *, x_dependent_gate=False,
                   reference=None, gating=None, max_iter=1000, tol=1e-6, n_jobs=-1,
                   random_state=None, verbose=0):
    """Run one of the DeepSeekMoE paper's convergence-rate experiments.

    :func:`sample_size_study` of :func:`deepseek_estimator` on data from
    :func:`deepseek_truth` with ``X ~ Uniform[-3, 3]``, every fit started
    near the truth (``init="near_true"``), recording the experiment's
    Voronoi loss (``"D1"``, ``"D2"``, ``"D3"`` or, for (d), ``"D4"`` against
    ``reference``) and the regression distance. The paper's exponent of the
    loss on ``log(n) / n`` is ``DEEPSEEK_REPORTED_RATES[experiment]``
    (``study.rate(scale="log_n_over_n")`` measures ours). The paper's grid
    is ``n`` from ``1e2`` to ``1e5`` with 40 replications, ``tol=1e-6`` and
    ``max_iter=1000``.

    Parameters
    ----------
    experiment : {"a", "b", "c", "d"}
        Which experiment.
    n_grid : sequence of int
        Sample sizes.
    n_replications : int
        Replications per sample size.
    x_dependent_gate : bool, default=False
        Use the truth whose gate depends on ``x`` (experiments "a" and "b",
        see :func:`deepseek_truth`).
    reference : MoEParams, default=None
        Reference model of ``"D4"``; None fits :func:`deepseek_reference`
        (``n_samples=100_000``, seeded from ``random_state``). Only used by
        experiment "d".
    gating : Gating, default=None
        Gate of the fitted model (:func:`deepseek_estimator`); None uses the
        truth's family.
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
        Loss columns: the experiment's loss, then ``"regression"``.

    Examples
    --------
    >>> from skmoe.convergence import deepseek_study
    >>> study = deepseek_study("b", [100, 200], 2, n_jobs=1, random_state=0)
    >>> study.losses
    ['D2', 'regression']
    """
    _check_experiment(experiment)
    truth = deepseek_truth(experiment, x_dependent_gate=x_dependent_gate)
    kind = DEEPSEEK_LOSSES[experiment]
    loss = kind
    if kind == "D4":
        if reference is None:
            reference = deepseek_reference(experiment, random_state=random_state)
        loss = _ReferenceLoss(reference)
    return sample_size_study(
        deepseek_estimator(experiment, gating=gating, max_iter=max_iter,
                           tol=tol),
        truth,
        n_grid, n_replications, loss=[loss, "regression"], init="near_true",
        x_distribution="uniform", n_jobs=n_jobs, random_state=random_state,
        verbose=verbose,
    )


def deepseek_report(study, experiment, *, n_boot=1000, random_state=0):
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

    Returns
    -------
    report : str
        One line per loss: the exponent of the mean loss on ``log(n) / n``
        with its bootstrap interval, the grid and the replications (reps);
        the paper's exponent on the line of the experiment's Voronoi loss.

    Examples
    --------
    >>> import numpy as np
    >>> from skmoe.convergence import SampleSizeStudy, deepseek_report
    >>> rows = [{"n": n, "replication": r, "D2": np.sqrt(np.log(n) / n)}
    ...         for n in (100, 1000) for r in range(2)]
    >>> print(deepseek_report(SampleSizeStudy(rows, ["D2"]), "b", n_boot=0))
    D2: 0.500 [nan, nan] on log(n)/n (paper 0.517); n 100..1000 (2 sizes) x 2 reps
    """
    _check_experiment(experiment)
    ns = sorted({row["n"] for row in study.table})
    reps = len(study.table) // len(ns)
    lines = []
    for loss in study.losses:
        r = study.rate(loss, scale="log_n_over_n", n_boot=n_boot,
                       random_state=random_state)
        paper = (f" (paper {DEEPSEEK_REPORTED_RATES[experiment]})"
                 if loss == DEEPSEEK_LOSSES[experiment] else "")
        lines.append(
            f"{loss}: {r['slope']:.3f} [{r['ci_low']:.3f}, "
            f"{r['ci_high']:.3f}] on log(n)/n{paper}; n {ns[0]}..{ns[-1]} "
            f"({len(ns)} sizes) x {reps} reps"
        )
    return "\n".join(lines)

#: the paper's grid: ``n`` from ``1e2`` to ``1e5`` (7 sizes, half-decades)
#: and 40 replications, as ``(n_grid, n_replications)``
DEEPSEEK_FULL_GRID = ([100, 316, 1000, 3162, 10000, 31623, 100000], 40)
