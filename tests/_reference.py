"""Plain NumPy twins of every Numba kernel in ``skmoe._kernels``."""

import numpy as np
from scipy.special import logsumexp


def log_softmax_rows(Z):
    return Z - logsumexp(Z, axis=1, keepdims=True)


def gaussian_estep(log_gate, means, variances, y):
    a = (
        log_gate
        - 0.5 * np.log(2 * np.pi * variances)
        - 0.5 * (y[:, None] - means) ** 2 / variances
    )
    loglik = logsumexp(a, axis=1)
    return np.exp(a - loglik[:, None]), loglik


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


def linear_expert_suffstats(F, y, R):
    gram = np.einsum("ik,ia,ib->kab", R, F, F)
    moment = np.einsum("ik,ia,i->ka", R, F, y)
    return gram, moment
