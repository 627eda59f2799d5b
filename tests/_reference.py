"""Plain NumPy twins of every Numba kernel in ``skmoe._kernels``."""

import numpy as np
from scipy.special import expit, gammaln, log_expit, logsumexp


def log_normalize(V):
    """``V - logsumexp(V, axis=1)``; a row with an infinite maximum gets the
    limit: equal shares of the entries equal to it (all of a row of -inf)."""
    V = np.asarray(V, dtype=float)
    top = V.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        out = V - logsumexp(V, axis=1, keepdims=True)
        ties = (V == top) | (top == -np.inf)
    share = -np.log(ties.sum(axis=1, keepdims=True))
    return np.where(np.isinf(top), np.where(ties, share, -np.inf), out)


def log_softmax_rows(Z):
    return log_normalize(Z)


def _posterior(a, log_gate):
    # rows of -inf: log-likelihood -inf, the gate weights as posteriors
    with np.errstate(invalid="ignore"):
        loglik = logsumexp(a, axis=1)
        resp = np.exp(a - loglik[:, None])
    dead = loglik == -np.inf
    resp[dead] = np.exp(log_gate[dead])
    return resp, loglik


def gaussian_estep(log_gate, means, variances, y):
    with np.errstate(over="ignore"):
        a = (
            log_gate
            - 0.5 * np.log(2 * np.pi * variances)
            - 0.5 * (y[:, None] - means) ** 2 / variances
        )
    return _posterior(a, log_gate)


def normalize_log_rows(A, log_gate):
    return _posterior(A, log_gate)


def lgamma_half_difference(x):
    # the kernel's split (both branches checked against the exact closed form
    # for integers in tests/test_kernels.py): gammaln below 1000, where the
    # difference of two gammaln loses at most ~2e-13; the series above
    x = np.asarray(x, dtype=float)
    u = 1.0 / x
    series = (0.5 * np.log(x) - u / 8 + u**3 / 192 + u**5 / 640
              - 17 * u**7 / 14336)
    with np.errstate(invalid="ignore"):
        direct = gammaln(x + 0.5) - gammaln(x)
    return np.where(x < 1000.0, direct, series)


def student_t_logpdf(means, variances, df, y):
    z2 = (y[:, None] - means) ** 2 / variances
    return (lgamma_half_difference(df / 2)
            - 0.5 * np.log(np.pi * df * variances)
            - (df + 1) / 2 * np.log1p(z2 / df))


def student_t_estep(log_gate, means, variances, df, y):
    with np.errstate(over="ignore"):
        a = log_gate + student_t_logpdf(means, variances, df, y)
        scale = (df + 1) / (df + (y[:, None] - means) ** 2 / variances)
    resp, loglik = _posterior(a, log_gate)
    return resp, loglik, scale


def gaussian_estep_linear(X, y, gate_coef, gate_intercept, expert_coef,
                          expert_intercept, variances):
    log_gate = log_softmax_rows(X @ gate_coef.T + gate_intercept)
    return gaussian_estep(log_gate, X @ expert_coef.T + expert_intercept,
                          variances, y)


def weighted_residual_ss(y, means, R):
    return np.sum(R * (y[:, None] - means) ** 2, axis=0)


def softmax_gate_objective(X, coef, intercept, R, compute_hessian):
    n, d = X.shape
    K = coef.shape[0]
    logp = log_softmax_rows(X @ coef.T + intercept)
    p = np.exp(logp)
    value = np.sum(np.where(R > 0, R * logp, 0.0))
    w = R.sum(axis=1)
    Xt = np.hstack([X, np.ones((n, 1))])
    grad = ((R - w[:, None] * p)[:, : K - 1].T @ Xt).ravel()
    if not compute_hessian:
        return value, grad, np.zeros((1, 1))
    m = (K - 1) * (d + 1)
    H = np.zeros((m, m))
    for k in range(K - 1):
        for l in range(K - 1):
            c = w * p[:, k] * ((k == l) - p[:, l])
            H[k * (d + 1):(k + 1) * (d + 1), l * (d + 1):(l + 1) * (d + 1)] = (
                (Xt * c[:, None]).T @ Xt
            )
    return value, grad, H


def linear_expert_suffstats(F, y, R, B, add_intercept):
    if add_intercept:
        F = np.hstack([F, np.ones((F.shape[0], 1))])
    E = y[:, None] - F @ B.T
    gram = np.einsum("ik,ia,ib->kab", R, F, F)
    moment = np.einsum("ik,ia,ik->ka", R, F, E)
    return gram, moment, (R * E**2).sum(axis=0), R.sum(axis=0)


def ffn_activation(z, code):
    from scipy.special import expit, ndtr

    z = np.asarray(z, dtype=float)
    if code == 0:
        s = expit(z)
        return s, s * (1 - s)
    if code == 1:
        t = np.tanh(z)
        return t, 1 - t**2
    if code == 2:
        return np.maximum(z, 0.0), (z > 0).astype(float)
    pdf = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    return z * ndtr(z), ndtr(z) + z * pdf


def _ffn_parts(X, P, code):
    d = X.shape[1]
    Z = X @ P[:, 1:d + 1].T + P[:, d + 1]
    S, dS = ffn_activation(Z, code)
    return S, dS


def ffn_predict(X, P, code):
    S, _ = _ffn_parts(X, P, code)
    return P[:, 0] * S + P[:, -1]


def _ffn_jacobian(X, P, code):
    """J[i, k, :] = dh_k(x_i) / dtheta_k."""
    n, d = X.shape
    S, dS = _ffn_parts(X, P, code)
    AZ = P[:, 0] * dS
    return np.concatenate(
        [S[:, :, None], AZ[:, :, None] * X[:, None, :], AZ[:, :, None],
         np.ones((n, P.shape[0], 1))],
        axis=2,
    )


def ffn_vjp(X, P, G, code):
    return np.einsum("ik,ikq->kq", G, _ffn_jacobian(X, P, code))


def ffn_nls(X, y, R, P, code, compute_gn):
    J = _ffn_jacobian(X, P, code)
    E = y[:, None] - ffn_predict(X, P, code)
    sse = np.sum(R * E**2, axis=0)
    jte = np.einsum("ik,ikq->kq", R * E, J)
    if not compute_gn:
        return sse, jte, np.zeros((1, 1, 1))
    return sse, jte, np.einsum("ik,ika,ikb->kab", R, J, J)


def gaussian_loglik_grad(log_gate, means, variances, y, w):
    resp, loglik = gaussian_estep(log_gate, means, variances, y)
    WR = w[:, None] * resp
    E = y[:, None] - means
    d_var = np.sum(WR * (E**2 / variances - 1) / (2 * variances), axis=0)
    return float(w @ loglik), WR, WR * E / variances, d_var


def least_squares_grad(log_gate, means, y, w):
    g = np.exp(log_gate)
    e = y - np.sum(g * means, axis=1)
    c = (-2 * w * e)[:, None]
    return float(np.sum(w * e**2)), c * g * means, c * g
def _topk_mask(Z, top_k):
    order = np.argsort(-Z, axis=1, kind="stable")
    keep = np.zeros(Z.shape, dtype=bool)
    np.put_along_axis(keep, order[:, :top_k], True, axis=1)
    return keep


def _log_normalize_kept(V, keep):
    # the softmax of the kept entries; a row of -inf is uniform over the kept
    V = np.where(keep, V, np.nan)
    top = np.nanmax(V, axis=1, keepdims=True)
    out = log_normalize(np.where(keep, V, -np.inf))
    ties = keep & ((V == top) | (top == -np.inf))
    share = -np.log(ties.sum(axis=1, keepdims=True))
    return np.where(top == -np.inf, np.where(ties, share, -np.inf), out)


def topk_log_softmax_rows(Z, top_k):
    return _log_normalize_kept(Z, _topk_mask(Z, top_k))


def sigmoid_log_weights(Z, top_k):
    return _log_normalize_kept(log_expit(Z), _topk_mask(Z, top_k))


def sigmoid_gate_objective(X, coef, intercept, R, compute_hessian):
    n, d = X.shape
    K = coef.shape[0]
    Z = X @ coef.T + intercept
    s, c = expit(Z), expit(-Z)
    logg = sigmoid_log_weights(Z, K)
    g = np.exp(logg)
    value = np.sum(np.where(R > 0, R * logg, 0.0))
    w = R.sum(axis=1)
    Xt = np.hstack([X, np.ones((n, 1))])
    grad = ((c * (R - w[:, None] * g)).T @ Xt).ravel()
    if not compute_hessian:
        return value, grad, np.zeros((1, 1)), np.zeros((1, 1))
    p = d + 1
    F = np.zeros((K * p, K * p))
    D = np.zeros((K * p, K * p))
    for k in range(K):
        for l in range(K):
            a_k, a_l = g[:, k] * c[:, k], g[:, l] * c[:, l]
            f = w * ((k == l) * a_k * c[:, k] - a_k * a_l)
            F[k * p:(k + 1) * p, l * p:(l + 1) * p] = (Xt * f[:, None]).T @ Xt
        e = s[:, k] * c[:, k] * (R[:, k] - w * g[:, k])
        D[k * p:(k + 1) * p, k * p:(k + 1) * p] = (Xt * e[:, None]).T @ Xt
    return value, grad, F + D, F


def _soft_topk_parts(A, Z, top_k, smoothing):
    Zs = -np.sort(-Z, axis=1)
    t = 0.5 * (Zs[:, top_k - 1] + Zs[:, top_k])
    u = (Z - t[:, None]) / smoothing
    B = A + log_expit(u)
    return log_normalize(B), u


def soft_topk_log_weights(A, Z, top_k, smoothing):
    with np.errstate(invalid="ignore"):
        out = _soft_topk_parts(A, Z, top_k, smoothing)[0]
        Zs = -np.sort(-Z, axis=1)
        t = 0.5 * (Zs[:, top_k - 1] + Zs[:, top_k])
    # an infinite threshold: the exact top-K selection (the limit)
    sharp = ~np.isfinite(t)
    exact = _log_normalize_kept(A, _topk_mask(Z, top_k))
    return np.where(sharp[:, None], exact, out)


def soft_topk_vjp(G, A, Z, top_k, smoothing):
    log_w, u = _soft_topk_parts(A, Z, top_k, smoothing)
    dA = G - np.exp(log_w) * G.sum(axis=1, keepdims=True)
    dZ = dA * expit(-u) / smoothing
    # t averages the top_k-th and (top_k+1)-th order statistics
    order = np.argsort(-Z, axis=1, kind="stable")
    dt = -dZ.sum(axis=1)
    rows = np.arange(Z.shape[0])
    dZ[rows, order[:, top_k - 1]] += 0.5 * dt
    dZ[rows, order[:, top_k]] += 0.5 * dt
    return dA, dZ


def fused_estep_statistics(X, y, sample_weight, gate_coef, gate_intercept,
                           expert_coef, expert_intercept, variances, previous=None):
    resp, loglik = gaussian_estep_linear(X, y, gate_coef, gate_intercept,
                                         expert_coef, expert_intercept, variances)
    R = resp * sample_weight[:, None]
    value, grad, neg_hess = softmax_gate_objective(X, gate_coef, gate_intercept,
                                                   R, True)
    gram, moment, rss, mass = linear_expert_suffstats(
        X, y, R, np.hstack([expert_coef, expert_intercept[:, None]]), True)
    trial = (0.0 if previous is None else
             softmax_gate_objective(X, gate_coef, gate_intercept, previous,
                                    False)[0])
    gate_mass = sample_weight @ np.exp(
        log_softmax_rows(X @ gate_coef.T + gate_intercept))
    return (sample_weight @ loglik, value, trial, grad, neg_hess, gram, moment,
            rss, mass, gate_mass), R


def vexp(x):
    return np.where(x >= -708.0, np.exp(np.maximum(x, -708.0)), np.where(
        np.isnan(x), x, 0.0))


def gaussian_log_densities(X, centres, prec_chol):
    U = np.triu(prec_chol)
    Y = np.einsum("nka,kab->nkb", X[:, None, :] - centres[None], U)
    half_logdet = np.log(np.diagonal(U, axis1=1, axis2=2)).sum(axis=1)
    return half_logdet - 0.5 * X.shape[1] * np.log(2 * np.pi) - 0.5 * (Y**2).sum(axis=2)


# --------------------------------------------------- several responses
def mvn_log_pdf(means, chol, y):
    """``log N(y_i | mu_ik, L_k L_k^T)`` by a dense solve and slogdet."""
    n, K, m = means.shape
    out = np.empty((n, K))
    for k in range(K):
        cov = chol[k] @ chol[k].T
        r = y - means[:, k, :]
        quad = np.einsum("ij,ij->i", r, np.linalg.solve(cov, r.T).T)
        out[:, k] = (-0.5 * m * np.log(2 * np.pi)
                     - 0.5 * np.linalg.slogdet(cov)[1] - 0.5 * quad)
    return out


def mvn_estep(log_gate, means, chol, y):
    with np.errstate(invalid="ignore"):
        a = log_gate + mvn_log_pdf(means, chol, y)
    return _posterior(np.where(log_gate == -np.inf, -np.inf, a), log_gate)


def weighted_scatter(y, means, R):
    r = y[:, None, :] - means
    return np.einsum("ik,ikj,ikl->kjl", R, r, r)


def gaussian_joint_update(X, R, reg_covar, kind):
    """The closed-form Gaussian gate update in ``x``: centres, precisions, log pi.

    Twin of ``gaussian_joint_rows`` (which works in whitened inputs and
    returns logit rows): per expert the weighted mean, the weighted
    covariance plus ``reg_covar I``, restricted to the structure ``kind``.
    """
    K, d = R.shape[1], X.shape[1]
    nk = R.sum(axis=0) + 10 * np.finfo(np.float64).eps * max(R.sum(), 1e-300)
    centres = (R.T @ X) / nk[:, None]
    P = np.empty((K, d, d))
    for k in range(K):
        Xc = X - centres[k]
        V = (Xc * R[:, k:k + 1]).T @ Xc / nk[k] + reg_covar * np.eye(d)
        if kind == "full":
            P[k] = np.linalg.inv(V)
        else:
            diag = np.diag(V)
            if kind == "spherical":
                diag = np.full(d, diag.mean())
            P[k] = np.diag(1.0 / diag)
    return centres, P, np.log(nk / nk.sum())


def glm_log_pmf(law, y, eta, trials):
    """Poisson (law 0) or binomial (law 1, ``trials`` trials, ``y`` the
    proportion) log-probabilities, shape (n, K): log-gamma constants and
    ``log_expit`` (no rounding of the success probability to 1)."""
    if law == 0:
        with np.errstate(over="ignore"):
            return y[:, None] * eta - np.exp(eta) - gammaln(y + 1.0)[:, None]
    s = np.rint(trials * y)
    const = gammaln(trials + 1.0) - gammaln(s + 1.0) - gammaln(trials - s + 1.0)
    return (const[:, None] + np.where(s[:, None] > 0, s[:, None] * log_expit(eta), 0.0)
            + np.where((trials - s)[:, None] > 0,
                       (trials - s)[:, None] * log_expit(-eta), 0.0))


def glm_estep(law, log_gate, eta, y, trials):
    return _posterior(log_gate + glm_log_pmf(law, y, eta, trials), log_gate)
