"""The summary of a fitted mixture of experts (flexmix's ``summary`` + ``parameters``).

:func:`summarize` computes, on the data it is given (the training data):
the fit statistics (log-likelihood, degrees of freedom, AIC, BIC, ICL, ``n``,
iterations, convergence), every component's prior (mean mixture weight) and
size (hard assignments), and every parameter named by feature with its
standard error, Wald ``z`` and two-sided ``p`` value where they are defined
(:mod:`skmoe.inference`), and a note where they are not. The result is a
:class:`MoESummary`: printable, ``to_frame()``-able, and shown as HTML in a
notebook.
"""

import html
import warnings

import numpy as np
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning

from ._params import _by_expert
from .inference import standard_errors
from .utils._sklearn import check_is_fitted
from .utils._text import (
    format_number,
    format_p_value,
    html_table,
    labelled_frame,
    text_table,
)
from .utils._threads import numba_threads
from .utils._warnings import SingularInformationWarning

#: expert fields whose entries get a Wald test of zero; the gate family says
#: which of its fields do (Gating.summary_fields); the others (variances,
#: degrees of freedom, a temperature, a Gaussian gate's centres) get a
#: standard error only
_TESTED = ("expert_params", "shared_params")

#: the notes of the coefficient table, by key
_NOTES = {
    "reference": (
        "fixed by the gate's identifiability normalisation, not estimated (no "
        "standard error): a softmax gate is unchanged by a common shift of its "
        "rows, so the last expert's row is held at 0 as the reference and the "
        "other rows are contrasts against it"),
    "no test": (
        "no Wald test: a variance (or degrees of freedom, a temperature) is "
        "positive and 0 is not a value to test; its standard error is the "
        "delta method's from the log-variance (see "
        "StandardErrors.confidence_intervals for a positive interval)"),
    "gate no test": (
        "no Wald test: not a coefficient of the gate's logits (a Gaussian "
        "gate's centre, log-weight or precision factor), so a test of zero "
        "has no meaning; only differences between the experts' logits are "
        "identified, and the standard error is the delta method's for the "
        "representative the gate family reports (GaussianGating: the one "
        "whose input mixture matches the inputs' first two moments)"),
    "fixed": (
        "not a free parameter (no standard error): held fixed by the gate "
        "family, such as the Gaussian gate's reference moments of the "
        "training inputs (x_mean, x_covariance)"),
}


def _description(estimator, params, names):
    """One line: the experts, the gate and the experts with their columns."""
    d = params.n_features

    def on(family):
        cols = family.input_columns(d)
        if cols.size == 0:
            return "no covariate"
        return ", ".join(names[j] for j in cols)

    gate = estimator.gating if isinstance(estimator.gating, str) else (
        repr(estimator.gating))
    experts = estimator.experts if isinstance(estimator.experts, str) else (
        repr(estimator.experts))
    gate_on = on(params.gating)
    gate_text = (f"{gate} gate with covariate-free weights" if gate_on ==
                 "no covariate" else f"{gate} gate on {gate_on}")
    shared = (f" + {params.n_shared_experts} shared" if params.n_shared_experts
              else "")
    return (f"Mixture of experts: {params.n_experts} experts{shared}; {gate_text}; "
            f"{experts} experts on {on(params.experts)}; "
            f"{params.noise.name} noise")


class MoESummary:
    """The report of a fitted mixture of experts on its training data.

    Returned by :meth:`MixtureOfExpertsRegressor.summary
    <skmoe.MixtureOfExpertsRegressor.summary>`; ``print(summary)`` shows it as
    text, a notebook as HTML, and :meth:`to_frame` gives its tables.

    Parameters
    ----------
    title : str
        One line describing the model.
    statistics : dict
        The fit statistics (see Attributes).
    components : list of dict
        One entry per component.
    coefficients : list of dict
        One entry per parameter.
    notes : dict of str to str
        The notes the tables refer to, by key.
    standard_errors : StandardErrors or None
        The standard errors, when defined.

    Attributes
    ----------
    title : str
        The model: experts, gate and experts with their columns, noise.
    statistics : dict
        ``n`` (rows), ``weight`` (total sample weight), ``log_likelihood``,
        ``df`` (free parameters), ``aic``, ``bic``, ``icl``, ``n_iter``,
        ``converged`` (None after ``partial_fit``), ``solver`` and
        ``objective``; a least-squares fit has ``squared_error`` and ``r2``
        instead of the likelihood's entries.
    components : list of dict
        ``expert`` (index; ``"shared s"`` for a shared expert), ``prior``
        (mean mixture weight over the rows, weighted) and ``size`` (rows whose
        largest posterior probability is this component's, weighted by the
        sample weights; by the gate for a least-squares fit).
    coefficients : list of dict
        ``expert``, ``block`` (``"gate"``, ``"expert"``, ``"noise"``),
        ``term`` (feature name, ``"(Intercept)"``, ``"variance"``, ...),
        ``estimate``, ``std_error``, ``z``, ``p_value`` (NaN where not
        defined) and ``note`` (the keys of the notes that apply, separated by
        ``"; "``).
    notes : dict of str to str
        Key -> text, in the order they are numbered in the printed report:
        ``"reference"`` (a gate row fixed by the normalisation), ``"no
        test"`` (a variance: standard error only), ``"no standard errors"``
        (why the model has none: least squares, Student-t noise, a top-K
        gate, shared experts, ...), ``"unreliable"`` (a near-singular
        information or a fit that did not converge), ``"data"`` (the data
        given is not the training data).
    standard_errors : StandardErrors or None
        The full result of :func:`skmoe.inference.standard_errors`.

    Examples
    --------
    >>> from skmoe import MixtureOfExpertsRegressor
    >>> from skmoe.datasets import load_tonedata
    >>> X, y = load_tonedata(return_X_y=True, as_frame=True)
    >>> est = MixtureOfExpertsRegressor(2, gate_features=[], init_params="kmeans",
    ...                                 random_state=0).fit(X, y)
    >>> summary = est.summary(X, y)
    >>> round(summary.statistics["log_likelihood"], 2)
    141.2
    >>> [c["size"] for c in summary.components]
    [113.0, 37.0]
    >>> summary.to_frame().loc[(0, "expert", "stretchratio"), "estimate"].round(3)
    np.float64(0.043)
    """

    def __init__(self, title, statistics, components, coefficients, notes,
                 standard_errors=None):
        self.title = title
        self.statistics = statistics
        self.components = components
        self.coefficients = coefficients
        self.notes = notes
        self.standard_errors = standard_errors

    def to_frame(self, table="coefficients"):
        """One of the report's tables as a pandas DataFrame.

        Parameters
        ----------
        table : {"coefficients", "components", "statistics"}, default="coefficients"
            ``"coefficients"``: one row per parameter, indexed by ``(expert,
            block, term)``, columns ``estimate``, ``std_error``, ``z``,
            ``p_value`` and ``note``. ``"components"``: one row per
            component (``prior``, ``size``). ``"statistics"``: one column
            ``value`` indexed by the statistic's name.

        Returns
        -------
        frame : pandas.DataFrame
            The table.
        """
        import pandas as pd

        if table == "coefficients":
            columns = ("estimate", "std_error", "z", "p_value", "note")
            return labelled_frame(
                {c: [r[c] for r in self.coefficients] for c in columns},
                [(r["expert"], r["block"], r["term"]) for r in self.coefficients],
                ["expert", "block", "term"])
        if table == "components":
            return pd.DataFrame(self.components).set_index("expert")
        if table == "statistics":
            return pd.DataFrame({"value": pd.Series(self.statistics, dtype=object)})
        raise ValueError(
            "table must be 'coefficients', 'components' or 'statistics'; got "
            f"{table!r}."
        )

    # ----------------------------------------------------------- printing
    def _statistics_lines(self):
        s = self.statistics
        if s["objective"] == "likelihood":
            first = (f"n = {s['n']}, log-likelihood = "
                     f"{format_number(s['log_likelihood'], 8)}, df = {s['df']}, "
                     f"AIC = {format_number(s['aic'], 8)}, BIC = "
                     f"{format_number(s['bic'], 8)}, ICL = "
                     f"{format_number(s['icl'], 8)}")
        else:
            first = (f"n = {s['n']}, least squares: weighted squared error = "
                     f"{format_number(s['squared_error'], 8)}, R^2 = "
                     f"{format_number(s['r2'], 6)}, df = {s['df']}")
        if s["converged"] is None:
            second = f"online EM (partial_fit): {s['n_iter']} batches"
        else:
            state = "converged" if s["converged"] else "not converged"
            second = f"solver={s['solver']!r}: {s['n_iter']} iterations ({state})"
        return [first, second]

    def _component_rows(self):
        return [[c["expert"], format_number(c["prior"]), format_number(c["size"], 6)]
                for c in self.components]

    def _coefficient_rows(self):
        number = {key: i + 1 for i, key in enumerate(self.notes)}
        rows = []
        for c in self.coefficients:
            note = c["note"]
            refs = " ".join(f"[{number[n]}]" for n in note.split("; ") if n) if (
                note) else ""
            rows.append([c["expert"], c["block"], c["term"],
                         format_number(c["estimate"], 5),
                         format_number(c["std_error"], 4),
                         format_number(c["z"], 4), format_p_value(c["p_value"]),
                         refs])
        return rows

    _COMPONENT_HEADER = ["expert", "prior", "size"]
    _COEF_HEADER = ["expert", "block", "term", "estimate", "std. error", "z value",
                    "Pr(>|z|)", "note"]

    def __str__(self):
        lines = [self.title, *self._statistics_lines(), "", "Components"]
        lines += text_table(self._COMPONENT_HEADER, self._component_rows(),
                            right={1, 2}, indent="  ")
        lines += ["", "Coefficients (Wald tests of zero; p values two-sided)"]
        lines += text_table(self._COEF_HEADER, self._coefficient_rows(),
                            right={3, 4, 5, 6}, indent="  ")
        if self.notes:
            lines += ["", "Notes"]
            lines += [f"  [{i}] {note}" for i, note in enumerate(self.notes.values(),
                                                                 1)]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        stats = "<br>".join(html.escape(line) for line in self._statistics_lines())
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes.values())
        components = html_table(self._COMPONENT_HEADER, self._component_rows(),
                                "Components")
        coefficients = html_table(self._COEF_HEADER, self._coefficient_rows(),
                                  "Coefficients")
        notes = f"<ol>{notes}</ol>" if notes else ""
        return (f"<div><p><b>{html.escape(self.title)}</b><br>{stats}</p>"
                f"{components}{coefficients}{notes}</div>")


def _standard_errors(estimator, X, y, sample_weight, notes):
    """The standard errors, or None with the reason in ``notes``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SingularInformationWarning)
            warnings.simplefilter("always", ConvergenceWarning)
            result = standard_errors(estimator, X, y, sample_weight=sample_weight)
    except ValueError as exc:
        notes["no standard errors"] = str(exc).splitlines()[0]
        return None
    for w in caught:
        if issubclass(w.category, (SingularInformationWarning, ConvergenceWarning)):
            previous = notes.get("unreliable")
            text = f"standard errors unreliable: {w.message}"
            notes["unreliable"] = text if previous is None else f"{previous} {text}"
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def summarize(estimator, X, y, sample_weight=None):
    """The summary of a fitted estimator on the data given (its training data).

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        The training inputs.
    y : array-like of shape (n_samples,)
        The training targets.
    sample_weight : array-like of shape (n_samples,), default=None
        The training sample weights (frequency weights).

    Returns
    -------
    summary : MoESummary
        The report.
    """
    check_is_fitted(estimator)
    X_given, y_given, w_given = X, y, sample_weight
    X, y, sample_weight = estimator._check_Xy(X, y, sample_weight)
    params = estimator.params_
    names = params._feature_names(getattr(estimator, "feature_names_in_", None))
    objective = getattr(estimator, "_fitted_objective", estimator.objective)
    likelihood = objective == "likelihood"
    notes = {}
    # the rows' frequency weights (the noise model's: ones for binomial trials)
    w = (np.ones(X.shape[0]) if sample_weight is None
         else params.noise.row_weights(sample_weight))
    n, W = X.shape[0], float(w.sum())
    with numba_threads(estimator.n_jobs):
        weights = params.component_weights(X)
    df = params.n_free_params()
    statistics = {"n": n, "weight": W}
    if likelihood:
        # the estimator's own sums (those of bic, aic and icl)
        loglik, resp, _, size = estimator._loglik_and_size(X_given, y_given,
                                                           w_given, "summary")
        positive = resp > 0
        terms = np.where(positive, resp * np.log(np.where(positive, resp, 1.0)), 0.0)
        entropy = -float(w @ terms.sum(axis=1))
        bic = -2.0 * loglik + df * np.log(size)
        statistics.update(log_likelihood=loglik, df=df,
                          aic=-2.0 * loglik + 2.0 * df, bic=bic,
                          icl=bic + 2.0 * entropy)
        fitted = getattr(estimator, "log_likelihood_", None)
        if fitted is not None and not np.isclose(loglik, fitted, rtol=1e-9,
                                                 atol=1e-9):
            notes["data"] = (
                f"the log-likelihood of the data given ({loglik:.6f}) is not the "
                f"fit's log_likelihood_ ({fitted:.6f}): is it the training data "
                "(and sample weights)? The standard errors, sizes and priors "
                "are those of the data given."
            )
    else:
        resp = weights  # no posterior without a density: sizes by the gate
        residual = y - params.predict(X)
        sse = float(w @ residual**2)
        mean = float(w @ y) / W
        statistics.update(squared_error=sse, r2=1.0 - sse / float(w @ (y - mean) ** 2),
                          df=df)
        notes["no standard errors"] = (
            "objective='least_squares' estimates the regression function only: "
            "no likelihood, hence no log-likelihood, information criteria, "
            "posterior probabilities or standard errors; sizes are hard "
            "assignments by the gate")
    converged = getattr(estimator, "converged_", None)
    statistics.update(n_iter=estimator.n_iter_,
                      converged=None if converged is None else bool(converged),
                      solver=estimator.solver, objective=objective)

    labels = [f"shared {s}" for s in range(params.n_shared_experts)]
    experts = list(range(params.n_experts)) + labels
    hard = np.argmax(resp, axis=1)
    components = [dict(expert=e, prior=float(w @ weights[:, j]) / W,
                       size=float(w[hard == j].sum()))
                  for j, e in enumerate(experts)]

    se = (_standard_errors(estimator, X_given, y_given, w_given, notes)
          if likelihood else None)
    rows = params._labels(names, fixed_variance=True)
    se_values = np.full(len(rows), np.nan)
    if se is not None:
        se_values[:se._se.size] = se._se
    gate_fields = params.gating.summary_fields(params.n_features, params.n_experts)
    coefficients = []
    for row, s in zip(rows, se_values, strict=True):
        if row["field"] == "variance" and not params.noise.has_variance:
            continue  # held at 1 by a law without variance
        entry = dict(expert=row["expert"], block=row["block"], term=row["term"],
                     estimate=row["value"], std_error=s, z=np.nan,
                     p_value=np.nan, note="")
        if se is None:
            entry["note"] = "no standard errors"
        elif "unreliable" in notes:
            entry["note"] = "unreliable"
        if se is not None and np.isfinite(s):
            gate_test = gate_fields.get(row["field"], (None, None))[1]
            tested = row["field"] in _TESTED or bool(gate_test)
            if s == 0:
                entry["std_error"] = np.nan
                entry["note"] = "; ".join(filter(None, [
                    "reference" if tested else "fixed", entry["note"]]))
            elif tested:
                entry["z"] = row["value"] / s
                entry["p_value"] = float(2.0 * norm.sf(abs(entry["z"])))
            else:
                reason = "no test" if gate_test is None else "gate no test"
                entry["note"] = "; ".join(filter(None, [entry["note"], reason]))
        coefficients.append(entry)
    coefficients = _by_expert(coefficients)
    used = {k: text for k, text in _NOTES.items()
            if any(k in c["note"].split("; ") for c in coefficients)}
    return MoESummary(_description(estimator, params, names), statistics,
                      components, coefficients, {**used, **notes}, se)
