"""Cross-moment tensor method for mixtures of linear experts (arXiv:1802.07417).

The method of Makkuva, Oh, Kannan and Viswanath, "Breaking the gridlock in
mixture-of-experts: consistent and efficient algorithms" (arXiv:1802.07417):
estimate the expert regressors from moments of ``(x, y)`` without touching
the gate, then fit the gate by EM with the experts held fixed.

Moment identities (derived here and checked by Monte Carlo)
-----------------------------------------------------------
Let ``z`` be the whitened inputs, ``z ~ N(0, I_d)``, and let the true model
be ``y = a_Z^T z + b + noise`` with the expert ``Z`` drawn from a gate that
depends on ``z`` only through directions orthogonal to every ``a_i`` (the
paper's assumption; then, ``z`` being Gaussian, the gate is independent of
the projections ``a_i^T z``), noise variance ``sigma^2`` and
``c = ||a_i||^2 + sigma^2`` equal for all experts. With the score functions
of the standard Gaussian ``S2(z) = z z^T - I`` and ``S3(z) = z^{(x)3} -
sym(z (x) I)``, Stein's lemma ``E[f(z) S_m(z)] = E[D^m f(z)]`` gives, for the
centred label ``u = y - E[y]`` and ``p_i = E[g_i(z)]``,

* ``T2 = E[u^2 S2(z)] = 2 sum_i p_i a_i a_i^T``: the gate terms
  ``c E[D^2 g_i]`` sum to ``c D^2 E[sum_i g_i] = 0``;
* ``T3 = E[(u^3 - 3 c u) S3(z)] = 6 sum_i p_i a_i^{(x)3}``: the cubic label
  contributes ``6 p_i a_i^{(x)3} + 3 c sym(a_i (x) E[D^2 g_i])`` and the
  linear one exactly ``sym(a_i (x) E[D^2 g_i])``, so the quadratic correction
  of the label (the paper's "cubic transform") cancels the gate. Under the
  model ``E[u^2] = c``, which is the estimate of ``c`` used here (the paper
  writes ``3 (1 + sigma^2)`` for unit-norm regressors).

These were checked numerically: on 4e5 draws of a 3-expert model in d=10 the
relative errors of the empirical T3 and T2 against the formulas were 0.086
and 0.038, and halved with 4 times more data (pure sampling noise, no bias).
The identities are the same for any gate family (the gate enters only
through ``E[D^m g_i]``), so every gating family is accepted.

Recovery: whiten with the top ``K`` eigenpairs of ``T2`` (``W^T T2 W = I``),
so that ``T3(W, W, W) = sum_i lambda_i v_i^{(x)3}`` with orthonormal ``v_i``
and ``lambda_i = 6 p_i (2 p_i)^{-3/2}``; decompose it (tensor power
iterations with deflation and random restarts, Anandkumar et al. 2014,
arXiv:1210.7559); then ``a_i = lambda_i (W^T)^+ v_i / 3`` and ``p_i = 9 /
(2 lambda_i^2)``; un-whiten to the original inputs.

Orthogonalised ALS (Sharan and Valiant 2017) is kept for comparison
(``DECOMPOSITIONS``): on the same whitened tensors it reached a
start-dependent result in 19 of 20 data sets (several fixed points when the
empirical tensor is not exactly orthogonal), the power method in none, with
equal median errors and similar times (tens of ms in NumPy for K <= 3;
``benchmarks/bench_tensor_init.py --study decomposition``), so the power
method is the default and no Numba kernel is used.
"""

import warnings
from math import comb

import numpy as np

from .._params import MoEParams
from ..noise import update_variances
from ..utils._abilities import Requirements
from ..utils._arrays import as_kernel_array
from ..utils._warnings import NonGaussianInputWarning
from ._em import run_em
from ._result import Degenerate, best_restart
from ._starts import given_start

#: iterations of one tensor power run, and random restarts per component
POWER_ITER = 100
POWER_RESTARTS = 10
#: skewness / excess kurtosis of a whitened coordinate beyond which the
#: inputs are reported as far from Gaussian (see ``gaussianity_statistics``)
SKEW_THRESHOLD = 0.5
KURTOSIS_THRESHOLD = 1.0
#: gate-only EM iterations of ``init_params="tensor"``
INIT_GATE_ITER = 100


def min_samples(n_features):
    """Fewest samples (of non-zero weight) the tensor method accepts.

    The rule is ``max(n_features + 2, C(n_features + 2, 3))``: at least as
    many samples as the symmetric third-order moment tensor has distinct
    entries (``d (d + 1) (d + 2) / 6``), so that the empirical tensor is not
    an under-determined average, and more than ``d + 1`` for a non-singular
    covariance to whiten with. It is a floor, not a guarantee of accuracy:
    the error of the estimated directions decreases like ``n^{-1/2}``.

    Parameters
    ----------
    n_features : int
        Number of input features ``d``.

    Returns
    -------
    n_min : int
        The minimum number of samples.
    """
    return max(n_features + 2, comb(n_features + 2, 3))


def moment_requirements(method, parameter="solver"):
    """What the moment method ``method`` needs of a model.

    Parameters
    ----------
    method : {"tensor", "two_loss"}
        The method.
    parameter : {"solver", "init_params"}, default="solver"
        The parameter that selected it, named in messages.

    Returns
    -------
    requirements : Requirements
        Linear experts (the label transforms are derived for experts linear
        in x) and no shared experts; as a solver, Gaussian noise (its
        refinement is Gaussian EM, or L-BFGS-B for ``"two_loss"``, which
        also needs the gate's gradient). As a start (``init_params``) it
        only estimates the experts, of one response per row (noise ability
        ``"univariate"``).
    """
    gating = ("gradient", "fixed_model") if method == "two_loss" else ()
    noise = ("gaussian",) if parameter == "solver" else ("univariate",)
    return Requirements(
        f"{parameter}={method!r}", gating=gating, experts=("linear",),
        noise=noise, shared_experts=False, hint="Use solver='em' for this model.",
    )


def check_moment_inputs(X, sample_weight, spec, *, parameter, method):
    """Raise a ValueError if the moment method cannot run on these inputs.

    Runs before any kernel, after :func:`skmoe.solvers.check_spec` has
    checked the model against :func:`moment_requirements`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
    spec : FitSpec
        The fit's settings.
    parameter : str
        The parameter that selected the method (``"solver"`` or
        ``"init_params"``), named in the messages.
    method : str
        The method's name (``"tensor"`` or ``"two_loss"``).

    Raises
    ------
    ValueError
        For ``n_experts > n_features`` (the whitening keeps ``K`` directions of
        ``R^d``) or fewer samples than :func:`min_samples`.
    """
    where = f"{parameter}={method!r}"
    n_experts = spec.n_experts
    n_samples, d = X.shape
    if n_experts > d:
        raise ValueError(
            f"{where} recovers at most n_features linearly independent expert "
            f"directions: expected n_experts <= n_features={d}, got n_experts="
            f"{n_experts}."
        )
    n_support = int(np.count_nonzero(sample_weight))
    need = min_samples(d)
    if n_support < need:
        raise ValueError(
            f"{where} estimates third-order moments: expected n_samples >= "
            f"max(n_features + 2, C(n_features + 2, 3)) = {need} samples of "
            f"non-zero weight for n_features={d}, got {n_support}."
        )


#: data magnitudes whose squares and cubes (summed over the rows) stay far
#: from overflow and from the subnormal numbers: inside ``[2**-SCALE_EXPONENT,
#: 2**SCALE_EXPONENT]`` the moments are computed as they are, beyond it on
#: data rescaled by a power of two (exact), see :func:`whiten` and
#: :func:`moment_tensors`
SCALE_EXPONENT = 256


def _power_of_two_scales(spread):
    """``2**-e`` with ``spread * 2**-e`` in ``[0.5, 1)``; 1 for a zero spread."""
    exponents = np.frexp(spread)[1]
    return np.ldexp(1.0, -np.where(spread > 0, exponents, 0))


def _in_range(spread):
    return bool(np.all((spread >= 2.0**-SCALE_EXPONENT)
                       & (spread <= 2.0**SCALE_EXPONENT)))


def whiten(X, w):
    """Mean and whitening matrix of ``X`` from its weighted covariance.

    For inputs whose centred columns have magnitudes in ``[2**-256,
    2**256]`` and a well-conditioned covariance (smallest eigenvalue above
    ``1e-12`` times the largest), the whitening matrix is the symmetric
    inverse square root of the covariance and ``scale`` is one. Otherwise
    (columns of very different or extreme scales) the columns are first
    divided by powers of two (an exact operation) that bring each to unit
    variance, and the covariance of the rescaled columns is whitened; the
    decision is taken on the correlation matrix, so it does not depend on
    the scales of the features.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    w : ndarray of shape (n_samples,)
        Weights summing to one.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    inv_sqrt : ndarray of shape (n_features, n_features)
        Symmetric, with ``inv_sqrt @ cov_s @ inv_sqrt = I`` for the
        covariance ``cov_s`` of ``(X - mean) * scale``; the whitened inputs are
        ``((X - mean) * scale) @ inv_sqrt``.
    scale : ndarray of shape (n_features,)
        Powers of two (all ones for ordinary inputs).

    Raises
    ------
    ValueError
        If the correlation matrix of ``X`` is singular (a constant or
        collinear feature).
    """
    mean = w @ X
    Xc = X - mean
    spread = np.abs(Xc).max(axis=0)
    scale = np.ones(X.shape[1])
    if _in_range(spread):
        cov = (Xc * w[:, None]).T @ Xc
        evals, evecs = np.linalg.eigh(cov)
        if evals[0] > 1e-12 * max(evals[-1], 0.0) and evals[-1] > 0:
            return mean, (evecs / np.sqrt(evals)) @ evecs.T, scale
    # columns of extreme or very different scales: rescale them exactly
    scale = _power_of_two_scales(spread)
    Xs = Xc * scale
    cov = (Xs * w[:, None]).T @ Xs
    unit = _power_of_two_scales(np.sqrt(np.diag(cov)))
    scale = scale * unit
    cov = cov * unit[:, None] * unit[None, :]
    diag = np.diag(cov)
    if np.all(diag > 0):
        corr = cov / np.sqrt(diag[:, None] * diag[None, :])
        corr_evals = np.linalg.eigvalsh(corr)
    else:
        corr_evals = np.zeros(1)
    if not corr_evals[0] > 1e-12 * corr_evals[-1]:
        raise ValueError(
            "The moment methods whiten X: expected a non-singular covariance of "
            "X, got smallest/largest eigenvalue "
            f"{corr_evals[0]:.3g}/{corr_evals[-1]:.3g} of its correlation "
            "matrix (a constant or collinear feature)."
        )
    evals, evecs = np.linalg.eigh(cov)
    return mean, (evecs / np.sqrt(evals)) @ evecs.T, scale


def gaussianity_statistics(Z, w):
    """Largest absolute skewness and excess kurtosis of whitened coordinates.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Whitened inputs (weighted mean zero, identity covariance).
    w : ndarray of shape (n_samples,)
        Weights summing to one.

    Returns
    -------
    skew : float
        ``max_j |E[z_j^3]|``.
    kurtosis : float
        ``max_j |E[z_j^4] - 3|``.
    """
    return float(np.abs(w @ Z**3).max()), float(np.abs(w @ Z**4 - 3.0).max())


def warn_if_not_gaussian(Z, w, n_support, where):
    """Warn when the whitened inputs are far from Gaussian.

    The test: the largest absolute skewness of a whitened coordinate exceeds
    ``max(0.5, 5 sqrt(6 / n))`` or the largest absolute excess kurtosis
    exceeds ``max(1.0, 5 sqrt(24 / n))``. ``sqrt(6 / n)`` and ``sqrt(24 / n)``
    are the standard errors of the two statistics under Gaussian inputs, so
    Gaussian data trigger it with probability below ``d * 1e-6`` (5 standard
    errors); the floors 0.5 and 1.0 are effect sizes at which Stein's identity
    behind the moment tensors is visibly biased (the uniform distribution,
    excess kurtosis -1.2, is reported; a Student t with 10 degrees of freedom,
    excess kurtosis 1.0, is at the edge). Coordinate-wise moments do not see
    every departure from joint Gaussianity.
    """
    skew, kurt = gaussianity_statistics(Z, w)
    skew_max = max(SKEW_THRESHOLD, 5.0 * np.sqrt(6.0 / n_support))
    kurt_max = max(KURTOSIS_THRESHOLD, 5.0 * np.sqrt(24.0 / n_support))
    if skew > skew_max or kurt > kurt_max:
        warnings.warn(
            f"{where} assumes Gaussian inputs, but the whitened inputs have a "
            f"coordinate with |skewness| {skew:.2f} (threshold {skew_max:.2f}) or "
            f"|excess kurtosis| {kurt:.2f} (threshold {kurt_max:.2f}); the "
            "moment estimates of the experts may be biased.",
            NonGaussianInputWarning,
            stacklevel=5,
        )


def _power_iterations(T, theta, n_iter):
    """``theta <- T(I, theta, theta) / ||.||`` until it moves less than 1e-13."""
    for _ in range(n_iter):
        new = T.reshape(T.shape[0], -1) @ np.outer(theta, theta).ravel()
        norm = np.linalg.norm(new)
        if norm == 0:
            break
        new /= norm
        done = np.linalg.norm(new - theta) < 1e-13
        theta = new
        if done:
            break
    return theta


def _power_decomposition(M3, rng, n_iter=POWER_ITER, n_restarts=POWER_RESTARTS):
    """Robust tensor power method with deflation (arXiv:1210.7559, Alg. 1).

    Returns the weights ``lam`` (positive) and unit vectors ``V`` (columns)
    of ``M3 ~ sum_i lam_i v_i^{(x)3}``.
    """
    K = M3.shape[0]
    T = M3.copy()
    lam = np.empty(K)
    V = np.empty((K, K))
    for i in range(K):
        best, best_val = None, -np.inf
        starts = rng.standard_normal((n_restarts, K))
        for theta in starts:
            theta = _power_iterations(T, theta / np.linalg.norm(theta), n_iter)
            val = np.einsum("ijk,i,j,k->", T, theta, theta, theta)
            if val > best_val:
                best, best_val = theta, val
        if best is None:  # every value NaN: the tensor is not finite
            raise Degenerate("the third-order moment tensor is not finite")
        theta = _power_iterations(T, best, n_iter)
        lam[i] = np.einsum("ijk,i,j,k->", T, theta, theta, theta)
        V[:, i] = theta
        T = T - lam[i] * np.einsum("i,j,k->ijk", theta, theta, theta)
    return lam, V


def _orth_als_decomposition(M3, rng, n_iter=POWER_ITER):
    """Orthogonalised ALS (simultaneous power iterations with a QR step).

    Sharan and Valiant (2017), arXiv:1703.01804, specialised to a symmetric
    tensor: every iteration replaces each column ``a_i`` by
    ``M3(I, a_i, a_i)`` and re-orthonormalises the columns.
    """
    K = M3.shape[0]
    A, _ = np.linalg.qr(rng.standard_normal((K, K)))
    for _ in range(n_iter):
        new = np.einsum("ijk,jl,kl->il", M3, A, A)
        A, r = np.linalg.qr(new)
        A = A * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))
    lam = np.einsum("ijk,il,jl,kl->l", M3, A, A, A)
    return lam, A


DECOMPOSITIONS = {"power": _power_decomposition, "orth_als": _orth_als_decomposition}


def moment_tensors(X, y, sample_weight, n_experts, *, where="solver='tensor'"):
    """Whitened second- and projected third-order cross-moments.

    Parameters
    ----------
    X, y, sample_weight : ndarray
    n_experts : int
    where : str
        Prefix of the non-Gaussian warning.

    Returns
    -------
    moments : dict
        ``mean``, ``inv_sqrt`` and ``x_scale`` (input whitening, see
        :func:`whiten`), ``y_mean``, ``y_scale`` (a power of two dividing
        the centred label when its cubes would leave the normal range, else
        1), ``U`` and ``s`` (top-K eigenvectors and eigenvalues of ``T2``),
        ``M3`` (``T3`` projected by ``W = U diag(s^{-1/2})``).
    """
    w = sample_weight / sample_weight.sum()
    mean, inv_sqrt, x_scale = whiten(X, w)
    Z = ((X - mean) * x_scale) @ inv_sqrt
    warn_if_not_gaussian(Z, w, int(np.count_nonzero(sample_weight)), where)
    y_mean = float(w @ y)
    u = y - y_mean
    # the tensors are homogeneous in the label (M3 is invariant, the slopes
    # scale with it): a label whose cubes would overflow or go subnormal is
    # divided by a power of two (exact), multiplied back in unwhiten
    spread = np.abs(u).max(axis=0, initial=0.0)
    y_scale = 1.0 if _in_range(spread) or spread == 0 else 1.0 / float(
        _power_of_two_scales(spread))
    if y_scale != 1.0:
        u = u / y_scale
    c = float(w @ u**2)
    if c <= 0:
        raise Degenerate("constant y")
    T2 = (Z * (w * u**2)[:, None]).T @ Z - c * np.eye(Z.shape[1])
    evals, evecs = np.linalg.eigh(T2)
    s, U = evals[::-1][:n_experts], evecs[:, ::-1][:, :n_experts]
    if s[-1] <= 0:
        raise Degenerate(
            f"the second-order moment has {int(np.sum(evals > 0))} positive "
            f"eigenvalues, fewer than n_experts={n_experts}"
        )
    W = U / np.sqrt(s)
    P = Z @ W  # (n, K) whitened projections
    f3 = w * (u**3 - 3.0 * c * u)
    M3 = np.einsum("i,ij,ik,il->jkl", f3, P, P, P)
    m = P.T @ f3
    G = W.T @ W
    M3 -= (np.einsum("j,kl->jkl", m, G) + np.einsum("k,jl->jkl", m, G)
           + np.einsum("l,jk->jkl", m, G))
    return dict(mean=mean, inv_sqrt=inv_sqrt, x_scale=x_scale, y_mean=y_mean,
                y_scale=y_scale, U=U, s=s, M3=M3)


def tensor_experts(X, y, sample_weight, n_experts, rng, *, decomposition="power",
                   where="solver='tensor'"):
    """Expert regressors and mixing proportions from the moment tensors.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    n_experts : int
    rng : numpy.random.RandomState
    decomposition : {"power", "orth_als"}, default="power"
        Tensor decomposition of the whitened third-order tensor.
    where : str
        Prefix of the non-Gaussian warning.

    Returns
    -------
    coef : ndarray of shape (n_experts, n_features)
        Expert slopes in the original input coordinates.
    intercept : ndarray of shape (n_experts,)
        Expert intercepts (all equal: the weighted mean of ``y`` minus
        ``coef @ mean(X)``, the model's intercept when the experts share it).
    proportions : ndarray of shape (n_experts,)
        Estimated ``E[g_k(x)]``, normalised to sum to one.
    """
    mom = moment_tensors(X, y, sample_weight, n_experts, where=where)
    lam, V = DECOMPOSITIONS[decomposition](mom["M3"], rng)
    coef, intercept = unwhiten(mom, lam, V)
    proportions = 4.5 / lam**2
    return coef, intercept, proportions / proportions.sum()


def unwhiten(mom, lam, V):
    """Expert slopes and intercepts from a decomposition of the whitened tensor.

    ``a_i = lam_i (W^T)^+ v_i / 3`` in whitened inputs, with ``(W^T)^+ = U
    diag(sqrt(s))``, then mapped back to the original inputs; the intercepts
    are all the weighted mean of ``y`` minus ``coef @ mean(X)``.

    Parameters
    ----------
    mom : dict
        The output of :func:`moment_tensors`.
    lam : ndarray of shape (K,)
        Weights of the decomposition (must be positive).
    V : ndarray of shape (K, K)
        Unit components, one per column.

    Returns
    -------
    coef : ndarray of shape (K, n_features)
    intercept : ndarray of shape (K,)
    """
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise Degenerate("non-positive tensor eigenvalue")
    A = ((mom["U"] * np.sqrt(mom["s"])) @ V * lam / 3.0).T
    coef = (A @ mom["inv_sqrt"]) * mom["x_scale"]
    if mom["y_scale"] != 1.0:
        coef = coef * mom["y_scale"]
    return coef, mom["y_mean"] - coef @ mom["mean"]


def expert_directions(experts, expert_params, n_features):
    """The experts' slopes normalised to unit length (zero slopes kept).

    Returns
    -------
    directions : ndarray of shape (n_experts, n_features)
    """
    coef = expert_params[:, experts.param_blocks(n_features)["coef"]]
    norms = np.linalg.norm(coef, axis=1, keepdims=True)
    return coef / np.where(norms > 0, norms, 1.0)


def direction_step(experts, directions):
    """Expert update with every expert's slope held on a fixed direction.

    Returns a callable with the signature of :meth:`Experts.m_step` for
    ``run_em``'s ``expert_step`` hook. Expert ``k`` is refitted as
    ``h(x) = s_k u_k^T x + b_k`` by the family's own ``m_step`` on the single
    feature ``u_k^T x`` (scale ``s_k`` and, if the family fits one, intercept
    ``b_k``): an exact maximiser over that set, so EM stays monotone.
    """
    directions = np.asarray(directions, dtype=np.float64)
    # the projections u_k^T x of the data the step is called on, computed once
    # per data set: the directions are fixed, EM calls the step on the same X
    cache = {"X": None, "T": None}

    def step(X, y, R, expert_params):
        d = X.shape[1]
        blocks = experts.param_blocks(d)
        coef, icpt = blocks["coef"], blocks["intercept"]
        if cache["X"] is not X:
            cache["X"] = X
            cache["T"] = [as_kernel_array((X @ u)[:, None]) for u in directions]
        new = expert_params.copy()
        for k, u in enumerate(directions):
            t = cache["T"][k]
            old = np.array([[float(expert_params[k, coef] @ u),
                             expert_params[k, icpt][0]]])
            sk, bk = experts.m_step(t, y, as_kernel_array(R[:, [k]]), old)[0]
            new[k, coef] = sk * u
            new[k, icpt] = bk
        return new

    return step


def tensor_start(X, y, sample_weight, spec, *, where="solver='tensor'"):
    """Starting parameters: tensor experts, random gate, pooled variances.

    Returns
    -------
    params : MoEParams
    """
    coef, intercept, _ = tensor_experts(X, y, sample_weight, spec.n_experts,
                                        spec.rng, where=where)
    return moment_start(X, y, sample_weight, coef, intercept, spec)


def moment_start(X, y, sample_weight, coef, intercept, spec):
    """``MoEParams`` with given linear experts, a random gate, pooled variances.

    The variances are the residual variances of the experts weighted by the
    random gate's weights (floored).

    Returns
    -------
    params : MoEParams
    """
    n_experts = coef.shape[0]
    d = X.shape[1]
    gating, experts, var_floor = spec.gating, spec.experts, spec.var_floor
    blocks = experts.param_blocks(d)
    expert_params = np.zeros((n_experts, experts.n_params(d)))
    expert_params[:, blocks["coef"]] = coef
    expert_params[:, blocks["intercept"]] = intercept[:, None]
    expert_params = experts.unpack(experts.pack(expert_params), n_experts, d)
    gate_fields = gating.init(X, sample_weight, n_experts, spec.rng)
    params = MoEParams(expert_params=expert_params, variance=np.ones(n_experts),
                       gating=gating, experts=experts, **gate_fields)
    R = as_kernel_array(np.exp(gating.log_weights(X, params)) * sample_weight[:, None])
    means = as_kernel_array(experts.predict(X, expert_params))
    variance = update_variances(y, means, R, np.ones(n_experts), var_floor)
    if not (np.all(np.isfinite(expert_params)) and np.all(np.isfinite(variance))):
        raise Degenerate("non-finite moment estimate of the experts")
    return params.replace(variance=variance)


def fixed_direction_em(X, y, sample_weight, params, *, max_iter, tol, var_floor,
                       verbose=0, label=""):
    """EM for the gate, variances, expert scales and intercepts.

    The expert directions are those of ``params`` (the rows of its ``coef``
    block), held fixed.

    Returns
    -------
    result : FitResult
    """
    experts = params.experts
    directions = expert_directions(experts, params.expert_params, X.shape[1])
    return run_em(X, y, sample_weight, params, max_iter=max_iter, tol=tol,
                  var_floor=var_floor, verbose=verbose, label=label,
                  expert_step=direction_step(experts, directions))


def tensor_init(X, y, sample_weight, spec):
    """The ``init_params="tensor"`` start: tensor experts, then gate EM.

    ``INIT_GATE_ITER`` iterations of :func:`fixed_direction_em` (a fixed
    number, with ``tol=0``, so that the start does not depend on where a
    stopping threshold falls).

    Returns
    -------
    params : MoEParams
    """
    start = tensor_start(X, y, sample_weight, spec, where="init_params='tensor'")
    return fixed_direction_em(X, y, sample_weight, start, max_iter=INIT_GATE_ITER,
                              tol=0.0, var_floor=spec.var_floor).params


def fit_tensor(X, y, sample_weight, spec):
    """Fit by the tensor method: moment experts, then EM with them fixed.

    Each of the ``n_init`` restarts draws new random restarts of the tensor
    power method and a new random gate; the restart with the highest
    log-likelihood is kept. The expert directions stay those of the tensor
    estimate; EM fits the gate, the variances and each expert's scale along
    its direction and intercept (:func:`fixed_direction_em`). A start given
    in ``spec.start`` (a warm start) or as an ``MoEParams`` in
    ``spec.init_params`` replaces the tensor estimate: its directions are
    held fixed. The strings of ``init_params`` are not used (the tensor
    estimate is the start).

    Parameters
    ----------
    X, y, sample_weight : ndarray
        The data.
    spec : FitSpec
        The fit's settings.

    Returns
    -------
    result : FitResult
    """
    start = _moment_method_start(spec)
    starts = [start] if start is not None else [None] * spec.n_init

    def fit_one(method, label):
        if method is None:
            params = tensor_start(X, y, sample_weight, spec)
        else:
            params = given_start(method, spec, X.shape[1])
        return fixed_direction_em(X, y, sample_weight, params,
                                  max_iter=spec.max_iter, tol=spec.tol,
                                  var_floor=spec.var_floor, verbose=spec.verbose,
                                  label=label)

    return best_restart(
        starts, fit_one, name="tensor",
        not_converged=lambda best: (
            f"The gate EM of solver='tensor' did not converge in max_iter="
            f"{spec.max_iter} iterations (tol={spec.tol}); increase max_iter or "
            "tol."
        ),
    )


def _moment_method_start(spec):
    """A warm start, or a user-given model, which replaces the moment estimate."""
    if spec.start is not None:
        return spec.start
    if isinstance(spec.init_params, MoEParams):
        return spec.init_params
    return None
