"""Checks of the estimator's inputs, with messages that name the input.

Each function is called in one line by
:class:`~skmoe.MixtureOfExpertsRegressor`; they run before any solver or
kernel, so that a bad input gets a ``ValueError`` naming it (what was
expected, what was received) instead of a NaN, a ``LinAlgError`` or a Numba
error further down.
"""

import re

import numpy as np

from ._arrays import as_kernel_array
from ._sklearn import _check_sample_weight, validate_data

#: exponent ``E`` of the range ``[2**-E, 2**E]`` (about ``[8.6e-78,
#: 1.2e77]``) of data magnitudes the solvers handle without overflow or loss
#: of precision, see :func:`check_data_scale`
SCALE_EXPONENT = 256


def _range_text(exponent):
    lo, hi = 2.0 ** -exponent, 2.0 ** exponent
    return f"[{lo:.3g}, {hi:.3g}] = [2**-{exponent:g}, 2**{exponent:g}]"


def _expert_degree(experts):
    """Largest total degree in ``x`` of the experts' design (their declaration)."""
    return int(experts.design_degree())


def check_data_scale(X, y, sample_weight, experts, shared_experts=None):
    """Refuse data whose magnitudes lie beyond float64's comfortable range.

    The solvers form weighted sums of squares and products of the data
    (normal equations of the experts, Newton terms of the gate, residual
    variances, the moment tensors of the tensor method) and divide by them.
    Every nonzero magnitude must therefore lie in ``[2**-E, 2**E]`` with
    ``E = SCALE_EXPONENT = 256``: its square is then within ``[2**-512,
    2**512]``, so that a sum of squares over the rows, times a total sample
    weight in the same range, stays below ``2**768``, with ``2**256`` of room
    below the largest double (``~2**1024``) for the solvers' factors (inverse
    variances, cubes of the standardised labels); and no square comes near
    the subnormal numbers (below ``2**-1022``), where precision is lost. The
    checked magnitudes: the largest ``|X_ij|`` of every column of ``X``
    (all-zero columns are allowed), the largest ``|y_i|`` (an all-zero ``y``
    is allowed) and the total sample weight. For polynomial experts of degree
    ``D`` the bound applies to the monomials, so every column of ``X`` must
    lie in ``[2**(-E/D), 2**(E/D)]``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite inputs.
    y : ndarray of shape (n_samples,)
        Finite targets.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights.
    experts : Experts
        The routed experts' family.
    shared_experts : Experts or None, default=None
        The shared experts' family, if any.

    Raises
    ------
    ValueError
        Naming ``X``, ``y`` or ``sample_weight``, the offending scale and the
        range.
    """
    E = SCALE_EXPONENT
    degree = max(_expert_degree(e) for e in (experts, shared_experts)
                 if e is not None)
    x_exp = E / degree
    # max |x| per column without the (n, d) temporary of np.abs(X): at
    # n = 1e6, d = 10 that copy was the largest allocation of a whole fit
    scales = (np.maximum(X.max(axis=0), -X.min(axis=0)) if X.size
              else np.zeros(X.shape[1]))
    bad = (scales > 2.0**x_exp) | ((scales > 0) & (scales < 2.0**-x_exp))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        family = (
            f" for polynomial experts of degree {degree} (their monomials of "
            f"degree {degree} must lie in {_range_text(E)})"
            if degree > 1 else ""
        )
        raise ValueError(
            f"X has a column of scale {scales[j]:.3g} (the largest |X[:, {j}]|), "
            f"outside the range {_range_text(x_exp)}{family} in which the "
            "solvers' weighted sums of squares neither overflow nor lose "
            "precision. Rescale X, for example with "
            "sklearn.preprocessing.StandardScaler (the model's parameters "
            "follow the units of X)."
        )
    scale = float(max(y.max(), -y.min())) if y.size else 0.0
    if scale > 2.0**E or 0 < scale < 2.0**-E:
        raise ValueError(
            f"y has scale {scale:.3g} (the largest |y_i|), outside the range "
            f"{_range_text(E)} in which the solvers' weighted sums of squares "
            "neither overflow nor lose precision. Rescale y (the expert "
            "parameters and standard deviations follow the units of y)."
        )
    total = float(sample_weight.sum())
    if not 2.0**-E <= total <= 2.0**E:
        raise ValueError(
            f"sample_weight sums to {total:.3g}, outside the range "
            f"{_range_text(E)} in which the solvers' weighted sums neither "
            "overflow nor lose precision. Rescale sample_weight, for example "
            "to sum to the number of samples."
        )


#: what ``X``, ``y`` and ``sample_weight`` must be, for the messages
_EXPECTED = {
    "X": "a 2-D array-like of real numbers of shape (n_samples, n_features)",
    "y": "a 1-D array-like of real numbers of shape (n_samples,)",
    "sample_weight": "None, a number or a 1-D array-like of non-negative real "
                     "numbers of shape (n_samples,)",
    "X and y": "array-likes with one row of X per value of y",
}


def _received(value):
    """A short description of ``value`` for a message (no array dump)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None:
        of_dtype = "" if dtype is None else f" and dtype {dtype}"
        return f"a {type(value).__name__} of shape {tuple(shape)}{of_dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {value!r}"[:200]


def _is_real_array(value):
    """Whether ``value`` converts to a float64 array (any shape), cheaply."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "c":
            return False
        arr.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _named(exc, name, value):
    """``exc`` again, its message prefixed with the input it is about.

    The original message is kept (without the array dumps scikit-learn
    appends after a newline), so the scikit-learn common checks, which match
    parts of it, still recognise it.
    """
    # lines of an array's repr: "array=[...", "[[1.0 2.0]", " 3.0 nan]."
    dump = re.compile(r"^\s*(\[|array=)|^[\s\d.eEnaifj+\-\[\](),]*$")
    text = "\n".join(line for line in str(exc).splitlines()
                     if not dump.match(line))
    received = ("X and y of different lengths" if name == "X and y"
                else _received(value))
    return type(exc)(f"{name} must be {_EXPECTED[name]}; got {received}: {text}")


def validate_Xy(estimator, X, y="no_validation", **kwargs):
    """``validate_data(estimator, X, y, **kwargs)`` with errors naming the input.

    scikit-learn's messages that do not name the input they are about (a
    string or complex value, a ragged list, inconsistent lengths) get the
    name (``X``, ``y`` or ``X and y``), what was expected and what was
    received in front; messages that already name it (``Input X contains
    NaN``, ``X has 2 features, but ...``) are kept as they are. The one place
    where the estimator's data conversion errors are reworded.

    Parameters
    ----------
    estimator : MixtureOfExpertsRegressor
        The estimator (``n_features_in_`` and ``feature_names_in_``).
    X : array-like
        Inputs.
    y : array-like or "no_validation", default="no_validation"
        Targets, or no targets.
    **kwargs : dict
        Passed to :func:`sklearn.utils.validation.validate_data`.

    Returns
    -------
    out : ndarray or tuple of ndarray
        As :func:`~sklearn.utils.validation.validate_data`.
    """
    try:
        out = validate_data(estimator, X, y, **kwargs)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if re.search(r"\b(X|y)\b", message) or "feature names" in message:
            raise
        if "inconsistent numbers of samples" in message:
            name, value = "X and y", (X, y)
        elif isinstance(y, str) or y is None or _is_real_array(y):
            name, value = "X", X
        else:
            name, value = "y", y
        raise _named(exc, name, value) from exc
    if isinstance(y, str) and y == "no_validation":
        return out
    # y_numeric converts object arrays only: strings and complex values of y
    # pass validate_data
    if out[1].dtype.kind == "c" or not _is_real_array(out[1]):
        try:
            out[1].astype(np.float64)
            problem = "complex values are not supported"
        except (TypeError, ValueError) as exc:
            problem = str(exc)
        raise ValueError(f"y must be {_EXPECTED['y']}; got {_received(y)}: "
                         f"{problem}")
    return out


def check_sample_weight(sample_weight, X):
    """``_check_sample_weight`` (non-negative, float64) with errors naming it.

    Parameters
    ----------
    sample_weight : array-like, float or None
        The weights.
    X : ndarray of shape (n_samples, n_features)
        The validated inputs.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,)
    """
    try:
        return _check_sample_weight(sample_weight, X, dtype=np.float64,
                                    ensure_non_negative=True)
    except (TypeError, ValueError) as exc:
        if "sample_weight" in str(exc):
            raise
        raise _named(exc, "sample_weight", sample_weight) from exc


def check_target(y, n_samples, n_targets=None):
    """``y`` of a method that evaluates a fitted model, as a float64 array.

    Parameters
    ----------
    y : array-like of shape (n_samples,), (n_samples, 1) or \
            (n_samples, n_targets)
        Targets.
    n_samples : int
        The number of rows of the validated ``X``.
    n_targets : int or None, default=None
        The number of responses of a model of several responses (None: one
        response per row).

    Returns
    -------
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        C-contiguous, writeable float64.

    Raises
    ------
    ValueError
        Naming ``y``: not real numbers (strings, complex values, a ragged
        sequence), not one value per row of ``X``, or NaN or infinite values.
    """
    expected = (f"a 1-D array-like of {n_samples} real numbers (one per row of X)"
                if n_targets is None else
                f"a 2-D array-like of real numbers of shape ({n_samples}, "
                f"{n_targets}) (one row per row of X, one column per response)")
    try:
        arr = np.asarray(y)
        if arr.dtype.kind == "c":
            raise ValueError("complex values are not supported")
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"y must be {expected}; got {_received(y)} ({exc})."
        ) from None
    if n_targets is not None:
        if arr.ndim == 1 and n_targets == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != n_targets:
            raise ValueError(f"y must be {expected}; got {_received(y)}.")
        arr = as_kernel_array(arr)
    else:
        arr = as_kernel_array(arr.ravel())
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"y must have one value per row of X ({n_samples}); got "
            f"{arr.shape[0]}."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0]
        i, count = ", ".join(map(str, first)), int(bad.sum())
        raise ValueError(
            f"y must not contain NaN or infinity; got {count} non-finite "
            f"value{'s' if count > 1 else ''} (the first, y[{i}], is "
            f"{float(arr[tuple(first)])})."
        )
    return arr


def check_probabilities(q):
    """Probabilities ``q`` of ``predict_quantiles`` as a 1-D float64 array.

    Parameters
    ----------
    q : float or array-like of shape (n_quantiles,)
        Probabilities in the open interval (0, 1).

    Returns
    -------
    q : ndarray of shape (n_quantiles,)

    Raises
    ------
    ValueError
        Naming ``q``: not numbers, not 1-D, or outside (0, 1).
    """
    try:
        arr = np.atleast_1d(np.asarray(q, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(
            "q must be a probability in (0, 1) or a 1-D array-like of "
            f"probabilities; got {q!r}."
        ) from None
    if arr.ndim != 1 or np.any(~((arr > 0) & (arr < 1))):
        raise ValueError(f"q must hold probabilities in (0, 1); got {q!r}.")
    return arr


def check_warm_start(previous, gating, experts, shared_experts=None):
    """Refuse a warm start from a fit of another gating or expert family.

    ``warm_start=True`` continues from ``previous`` (the last ``params_``);
    its fields only mean something to families of the same class and the
    same parameter layout. Other hyper-parameters of the same family (a new
    temperature, ``anneal_iter``...) may change.

    Parameters
    ----------
    previous : MoEParams
        The previous fit's ``params_``.
    gating : Gating
        The gating family of this fit.
    experts : Experts
        The expert family of this fit.
    shared_experts : Experts or None, default=None
        The shared experts' family of this fit (None: that of ``experts``).

    Raises
    ------
    ValueError
        Naming the parameter (``gating``, ``experts`` or ``shared_experts``),
        the previous family and the new one.
    """
    d, K = previous.n_features, previous.n_experts
    families = [("gating", previous.gating, gating),
                ("experts", previous.experts, experts)]
    if previous.n_shared_experts:
        families.append(("shared_experts", previous.shared_experts,
                         experts if shared_experts is None else shared_experts))
    for name, old, new in families:
        problem = None
        if type(old) is not type(new):
            problem = "another family"
        elif name != "gating" and old.n_params(d) != new.n_params(d):
            problem = (f"another parameter layout: {new.n_params(d)} parameters "
                       f"per expert instead of {old.n_params(d)}")
        elif name == "gating":
            template = new.random_params(d, K, 1.0, np.random.RandomState(0))
            extra = template.get("gate_extra", {})
            changed = sorted(k for k in extra if k in previous.gate_extra and
                             np.shape(extra[k]) != np.shape(previous.gate_extra[k]))
            if changed:
                problem = (f"another parameter layout: gate_extra[{changed[0]!r}] "
                           f"of shape {np.shape(extra[changed[0]])} instead of "
                           f"{np.shape(previous.gate_extra[changed[0]])}")
        if problem is not None:
            raise ValueError(
                f"warm_start=True continues from the previous fit's params_, "
                f"whose {name} is {old!r}; got {name}={new!r} ({problem}). Set "
                "warm_start=False to fit it from a fresh start."
            )


def variance_floor(y, sample_weight, reg_var):
    """The variance floor of ``fit``: ``reg_var`` times the scale of ``y``.

    The scale is the weighted variance of ``y``. When that variance is at
    or below the round-off of its own computation, ``(n eps max|y|)**2``
    (``n`` samples of non-zero weight: the weighted mean of ``n`` values
    carries an error up to ``n eps max|y|``), ``y`` is constant to float64's
    precision and its computed variance is noise (``1e-31`` for ``y = 0.1``,
    which let the variances collapse to that and the observed information
    overflow); the scale is then the weighted mean of ``y**2``, or 1 when
    ``y`` is zero.

    For several responses (``y`` of shape (n_samples, n_targets)) every
    column gets its own floor: ``reg_var`` is relative to each response's
    variance.

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    reg_var : float
        The estimator's ``reg_var``.

    Returns
    -------
    var_floor : float or ndarray of shape (n_targets,)
        The absolute lower bound of the expert variances (of each response's
        variance).
    """
    if y.ndim == 2:
        return np.array([variance_floor(np.ascontiguousarray(col), sample_weight,
                                        reg_var) for col in y.T])
    w = sample_weight / sample_weight.sum()
    var_y = float(w @ (y - w @ y) ** 2)
    support = sample_weight > 0
    n = int(np.count_nonzero(support))
    largest = float(np.abs(y[support]).max())
    if var_y <= (n * np.finfo(np.float64).eps * largest) ** 2:
        mean_square = float(w @ y**2)
        var_y = mean_square if mean_square > 0 else 1.0
    return reg_var * var_y
