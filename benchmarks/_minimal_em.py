"""Minimal compiled EM loops: the yardstick of ``bench_small_fits.py``.

Each family of skmoe that EM fits gets the smallest compiled EM iteration a
Numba user would write for it, on raw arrays (no ``MoEParams``, no
validation, no dispatch): parameters are arrays updated in place, statistics
live in preallocated buffers, and the whole iteration is one ``@njit``
function. Two ways to drive it are timed:

- ``loop_*``: the whole EM (initial E-step and ``n_iter`` iterations) in one
  compiled call;
- ``step_*`` called from a Python ``for`` loop (one compiled call per
  iteration), the design a Python-level stopping rule, verbose printing and
  callbacks would keep.

The algorithms are those of skmoe (same start, same updates, same
safeguards) unless a docstring says otherwise, so the log-likelihood
trajectories can be compared to round-off:

===================  =====================================================
family               one iteration
===================  =====================================================
softmax + linear     E-step pass that also sums the experts' weighted Gram
(+ polynomial)       matrices and moments and the gate's objective, gradient
                     and negative Hessian (skmoe's fused pass); weighted
                     least squares (Cholesky); residual pass (variances);
                     one damped Newton gate step whose Armijo test is done
                     in the next E-step pass (the previous responsibilities
                     are kept in a second buffer)
normalized sigmoid   E-step pass with Gram matrices; WLS; residual pass; up
(pinned or not)      to 3 safeguarded Newton gate steps (exact Hessian, else
                     Fisher), each with a backtracking line search; pinned:
                     the last row held (the first K - 1 rows' blocks)
hierarchical         E-step pass with Gram matrices; WLS; residual pass; one
softmax              damped Newton step for the group softmax and one for
                     each group's softmax, each tested at once
top-K softmax        E-step with top-K log-softmax; WLS; residual pass; ECME
(anneal_iter=0)      gate: dense Newton proposal on the dense posterior,
                     accepted (or halved up to 6 times) only if the observed
                     log-likelihood increases, then up to 5 monotone L-BFGS
                     steps on it (skmoe's ``maximize_monotone``)
top-K normalized     the same with the normalized sigmoid over the top-K
sigmoid (pinned,     logits; the dense proposal is the dense gate's up to 3
anneal_iter=0)       safeguarded Newton steps
FFN experts          E-step pass with the gate terms; up to 3 accepted
                     Levenberg-Marquardt steps per expert (10 damping
                     tries), one pass per trial (skmoe's ``ffn_nls``); the
                     variances from the accepted sums of squares (no pass);
                     one damped Newton gate step tested at once
Student-t noise      E-step pass (t densities, scale weights u) with gate
                     terms; WLS with weights R*u; residual pass; ECM update
                     of the degrees of freedom (root of the ECM equation,
                     bisection to 1e-12); one Newton gate step. skmoe adds
                     the ECME step on the observed likelihood after
                     iteration 20 (``DF_ECME_AFTER``): not done here, so
                     compare at most 20 iterations
Gaussian gate        E-step pass with Gram matrices and the gate terms on
(diagonal) + linear  the whitened features ``[z, -z^2 / 2]``; WLS; residual
                     pass; closed-form proposal (weighted means and
                     variances), taken if it increases the gate objective
                     (then the Newton terms again); one damped Newton gate
                     step tested at once; the normal form is not computed
===================  =====================================================

The helpers repeat a few of skmoe's kernels (``ffn_nls``, the log-sigmoid,
the top-K selection) on purpose instead of importing them: the yardstick must
not move when skmoe's kernels change.

``CACHE`` (the environment variable ``SKMOE_BENCH_CACHE=1``) turns on
Numba's on-disk cache for these functions; off by default, so that the first
call of each loop in a process is a real compilation.
"""

import math
import os

import numpy as np
from numba import njit

CACHE = os.environ.get("SKMOE_BENCH_CACHE", "0") == "1"
EPS = float(np.finfo(np.float64).eps)

SIGMOID, TANH, RELU = 0, 1, 2

# --------------------------------------------------------------------------
# small dense linear algebra (no LAPACK call: p is a handful)
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _cholesky(A, L):
    """``L L^T = A`` (lower ``L``); False when ``A`` is not positive definite."""
    m = A.shape[0]
    for j in range(m):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            return False
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, m):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    return True


@njit(cache=CACHE)
def _cho_solve(L, b, x):
    m = L.shape[0]
    for i in range(m):
        t = b[i]
        for k in range(i):
            t -= L[i, k] * x[k]
        x[i] = t / L[i, i]
    for i in range(m - 1, -1, -1):
        t = x[i]
        for k in range(i + 1, m):
            t -= L[k, i] * x[k]
        x[i] = t / L[i, i]


@njit(cache=CACHE)
def _damped_solve(A, b, x, ridge0):
    """Solve ``(A + lam I) x = b`` with the smallest working ``lam``.

    ``lam`` starts at ``ridge0`` times the mean diagonal (0 for ``ridge0 =
    0``) and grows tenfold from ``1e-12`` of it until Cholesky succeeds (the
    rule of skmoe's ``_damped_cholesky``).
    """
    m = A.shape[0]
    tr = 0.0
    for i in range(m):
        tr += A[i, i]
    base = max(tr / m, 1e-300)
    lam = ridge0 * base
    B = A.copy()
    L = np.zeros((m, m))
    for _ in range(400):
        for i in range(m):
            B[i, i] = A[i, i] + lam
        if _cholesky(B, L):
            _cho_solve(L, b, x)
            return True
        lam = base * 1e-12 if lam == 0.0 else lam * 10.0
    return False


@njit(cache=CACHE)
def _copy(src, dst):
    """``dst[...] = src`` for C-contiguous arrays of the same size.

    An explicit loop: an array-slice assignment would make Numba compile its
    shape-mismatch error message (its string helpers, seconds of compile
    time; see bench_compile.py).
    """
    s = src.reshape(src.size)
    t = dst.reshape(dst.size)
    for i in range(s.shape[0]):
        t[i] = s[i]


@njit(cache=CACHE)
def _symmetrize(A):
    m = A.shape[0]
    for a in range(m):
        for b in range(a + 1, m):
            A[b, a] = A[a, b]


@njit(cache=CACHE)
def _wls(gram, moment, mass, B):
    """Weighted least squares per expert; experts without mass keep ``B[k]``."""
    K, p = moment.shape
    total = 0.0
    for k in range(K):
        total += mass[k]
    thr = 1e-10 * total
    x = np.empty(p)
    for k in range(K):
        if mass[k] <= thr:
            continue
        _symmetrize(gram[k])
        if _damped_solve(gram[k], moment[k], x, 0.0):
            for a in range(p):
                B[k, a] = x[a]


@njit(cache=CACHE)
def _variances(rss, mass, var, var_floor):
    K = mass.shape[0]
    total = 0.0
    for k in range(K):
        total += mass[k]
    for k in range(K):
        if mass[k] > 1e-10 * total:
            var[k] = rss[k] / mass[k]
        var[k] = max(var[k], var_floor)


# --------------------------------------------------------------------------
# softmax gate (last row zero): logits, objective, Newton terms and step
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _logits(X, i, coef, intercept, z):
    K, d = coef.shape
    for k in range(K):
        s = intercept[k]
        for j in range(d):
            s += X[i, j] * coef[k, j]
        z[k] = s


@njit(cache=CACHE)
def _log_softmax(z, lz, pr):
    """Log-softmax of ``z`` into ``lz`` and the probabilities into ``pr``."""
    K = z.shape[0]
    m = -np.inf
    for k in range(K):
        if z[k] > m:
            m = z[k]
    s = 0.0
    for k in range(K):
        e = math.exp(z[k] - m)
        pr[k] = e
        s += e
    lse = m + math.log(s)
    inv = 1.0 / s
    for k in range(K):
        lz[k] = z[k] - lse
        pr[k] *= inv


@njit(cache=CACHE)
def _add_softmax_terms(x_row, d, R, i, c0, pr, grad, neg):
    """Add row ``i`` of the softmax objective's gradient and negative Hessian.

    Columns ``c0 .. c0 + m - 1`` of ``R`` are the weights of the ``m``
    experts of this softmax (last one the reference); ``pr`` their gate
    probabilities.
    """
    m = pr.shape[0]
    p = d + 1
    wsum = 0.0
    for k in range(m):
        wsum += R[i, c0 + k]
    for k in range(m - 1):
        pk = pr[k]
        gk = R[i, c0 + k] - wsum * pk
        for a in range(p):
            grad[k * p + a] += gk * x_row[a]
        for l in range(k, m - 1):
            pl = pr[l]
            c = wsum * pk * ((1.0 if k == l else 0.0) - pl)
            if c == 0.0:
                continue
            for a in range(p):
                ca = c * x_row[a]
                for b in range(p):
                    neg[k * p + a, l * p + b] += ca * x_row[b]


@njit(cache=CACHE)
def _row_posterior(a, wi, R, i, mass):
    """Log joints ``a`` of row ``i`` -> ``R[i] = w_i`` times the posterior.

    Adds the row to ``mass``; returns ``w_i log p(y_i | x_i)``. ``a`` is
    overwritten.
    """
    K = a.shape[0]
    ma = -np.inf
    for k in range(K):
        if a[k] > ma:
            ma = a[k]
    tot = 0.0
    for k in range(K):
        a[k] = math.exp(a[k] - ma)
        tot += a[k]
    scale = wi / tot
    for k in range(K):
        r = a[k] * scale
        R[i, k] = r
        mass[k] += r
    return wi * (ma + math.log(tot))


@njit(cache=CACHE)
def _row_gate(X, i, R, lz, pr, xr, ggrad, gneg):
    """Row ``i``'s softmax gate objective (returned) and Newton terms."""
    d = X.shape[1]
    gv = 0.0
    for k in range(lz.shape[0]):
        if R[i, k] != 0.0:
            gv += R[i, k] * lz[k]
    for j in range(d):
        xr[j] = X[i, j]
    _add_softmax_terms(xr, d, R, i, 0, pr, ggrad, gneg)
    return gv


@njit(cache=CACHE)
def _softmax_objective(X, R, c0, coef, intercept, terms, grad, neg):
    """``sum_ik R_ik log softmax_k``; with ``terms`` also gradient and -Hessian."""
    n, d = X.shape
    m = coef.shape[0]
    z = np.empty(m)
    lz = np.empty(m)
    pr = np.empty(m)
    xr = np.empty(d + 1)
    xr[d] = 1.0
    value = 0.0
    if terms:
        grad[:] = 0.0
        neg[:, :] = 0.0
    for i in range(n):
        _logits(X, i, coef, intercept, z)
        _log_softmax(z, lz, pr)
        for k in range(m):
            r = R[i, c0 + k]
            if r != 0.0:
                value += r * lz[k]
        if terms:
            for j in range(d):
                xr[j] = X[i, j]
            _add_softmax_terms(xr, d, R, i, c0, pr, grad, neg)
    if terms:
        for a in range(neg.shape[0]):
            for b in range(a):
                neg[a, b] = neg[b, a]
    return value


@njit(cache=CACHE)
def _newton_proposal(value, grad, neg, n, step):
    """skmoe's NewtonProposal: status 0 stay, 1 take, 2 test; and the slope."""
    if grad.shape[0] == 0:
        return 0, 0.0
    if not _damped_solve(neg, grad, step, 1e-12):
        return 0, 0.0
    slope = 0.0
    for a in range(grad.shape[0]):
        slope += grad[a] * step[a]
    if not slope > 0.0:
        return 0, slope
    noise = n * EPS * (abs(value) + 1.0)
    return (1 if 0.5 * slope <= noise else 2), slope


@njit(cache=CACHE)
def _set_gate(coef0, int0, step, t, coef, intercept):
    """Rows ``0..m-2`` of ``[coef0 | int0] + t * step`` into ``coef, intercept``."""
    m, d = coef0.shape
    p = d + 1
    for k in range(m - 1):
        for j in range(d):
            coef[k, j] = coef0[k, j] + t * step[k * p + j]
        intercept[k] = int0[k] + t * step[k * p + d]


@njit(cache=CACHE)
def _newton_softmax_step(X, R, c0, coef, intercept, value, grad, neg):
    """One tested damped Newton step (skmoe's newton_softmax_ascent, 1 step).

    ``value, grad, neg`` are the terms at the current gate; ``coef`` and
    ``intercept`` are updated in place.
    """
    n = X.shape[0]
    step = np.empty(grad.shape[0])
    status, slope = _newton_proposal(value, grad, neg, n, step)
    if status == 0:
        return
    c0_, i0_ = coef.copy(), intercept.copy()
    _set_gate(c0_, i0_, step, 1.0, coef, intercept)
    if status == 1:
        return
    v = _softmax_objective(X, R, c0, coef, intercept, False, grad, neg)
    if v >= value + 1e-4 * slope:
        return
    t = 1.0
    for _ in range(39):
        t *= 0.5
        _set_gate(c0_, i0_, step, t, coef, intercept)
        v = _softmax_objective(X, R, c0, coef, intercept, False, grad, neg)
        if v >= value + 1e-4 * t * slope:
            return
    _copy(c0_, coef)
    _copy(i0_, intercept)


# --------------------------------------------------------------------------
# 1. softmax gate + experts linear in features F (linear: F = X)
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _estep_softmax_lif(X, F, y, w, gc, gb, B, var, R, Rold, trial, gram, moment,
                       mass, ggrad, gneg, out):
    """E-step pass: responsibilities into R, all M-step statistics.

    ``out``: [loglik, gate objective at gc/gb, trial value of Rold].
    """
    n, d = X.shape
    K = gc.shape[0]
    m = F.shape[1]
    p = m + 1
    gram[:, :, :] = 0.0
    moment[:, :] = 0.0
    mass[:] = 0.0
    ggrad[:] = 0.0
    gneg[:, :] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    a = np.empty(K)
    f = np.empty(p)
    f[m] = 1.0
    xr = np.empty(d + 1)
    xr[d] = 1.0
    log_norm = np.empty(K)
    half_prec = np.empty(K)
    for k in range(K):
        log_norm[k] = -0.5 * math.log(2.0 * math.pi * var[k])
        half_prec[k] = 0.5 / var[k]
    ll = 0.0
    gv = 0.0
    tv = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        _log_softmax(z, lz, pr)
        for c in range(m):
            f[c] = F[i, c]
        for k in range(K):
            mu = B[k, m]
            for c in range(m):
                mu += f[c] * B[k, c]
            e = y[i] - mu
            a[k] = lz[k] + log_norm[k] - e * e * half_prec[k]
        ll += _row_posterior(a, w[i], R, i, mass)
        if trial:
            for k in range(K):
                if Rold[i, k] != 0.0:
                    tv += Rold[i, k] * lz[k]
        _add_gram_row(f, y[i], R, i, gram, moment)
        gv += _row_gate(X, i, R, lz, pr, xr, ggrad, gneg)
    _symmetrize(gneg)
    out[0] = ll
    out[1] = gv
    out[2] = tv


@njit(cache=CACHE)
def _add_gram_row(f, yi, R, i, gram, moment):
    """Add row ``i`` (design ``f``) to every expert's Gram matrix and moment."""
    K, p = moment.shape
    for k in range(K):
        r = R[i, k]
        if r != 0.0:
            for u in range(p):
                ru = r * f[u]
                moment[k, u] += ru * yi
                for v in range(u, p):
                    gram[k, u, v] += ru * f[v]


@njit(cache=CACHE)
def _rss_lif(F, y, R, B, rss):
    n, m = F.shape
    K = B.shape[0]
    rss[:] = 0.0
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r != 0.0:
                mu = B[k, m]
                for c in range(m):
                    mu += F[i, c] * B[k, c]
                e = y[i] - mu
                rss[k] += r * e * e


@njit(cache=CACHE)
def step_softmax_lif(X, F, y, w, gc, gb, B, var, var_floor, R, Rold, gram, moment,
                     mass, ggrad, gneg, out):
    """One EM iteration (M-step, then E-step pass); returns the log-likelihood.

    On entry ``R`` and the statistics are those of the last E-step pass; on
    exit they are the new ones (``R`` and ``Rold`` swap contents).
    """
    n = X.shape[0]
    K = gc.shape[0]
    _wls(gram, moment, mass, B)
    rss = np.empty(K)
    _rss_lif(F, y, R, B, rss)
    _variances(rss, mass, var, var_floor)
    step = np.empty(ggrad.shape[0])
    value = out[1]
    status, slope = _newton_proposal(value, ggrad, gneg, n, step)
    gc0 = gc.copy()
    gb0 = gb.copy()
    if status != 0:
        _set_gate(gc0, gb0, step, 1.0, gc, gb)
    _copy(R, Rold)
    _estep_softmax_lif(X, F, y, w, gc, gb, B, var, R, Rold, status == 2, gram,
                       moment, mass, ggrad, gneg, out)
    if status == 2 and not out[2] >= value + 1e-4 * slope:
        # rejected: halve on the previous responsibilities, then E-step again
        t = 1.0
        ok = False
        for _ in range(39):
            t *= 0.5
            _set_gate(gc0, gb0, step, t, gc, gb)
            v = _softmax_objective(X, Rold, 0, gc, gb, False, ggrad, gneg)
            if v >= value + 1e-4 * t * slope:
                ok = True
                break
        if not ok:
            _copy(gc0, gc)
            _copy(gb0, gb)
        _estep_softmax_lif(X, F, y, w, gc, gb, B, var, R, Rold, False, gram,
                           moment, mass, ggrad, gneg, out)
    return out[0]


@njit(cache=CACHE)
def loop_softmax_lif(X, F, y, w, gc, gb, B, var, var_floor, n_iter):
    """Initial E-step and ``n_iter`` iterations; the log-likelihood history."""
    n, d = X.shape
    K = gc.shape[0]
    p = F.shape[1] + 1
    R = np.empty((n, K))
    Rold = np.empty((n, K))
    gram = np.empty((K, p, p))
    moment = np.empty((K, p))
    mass = np.empty(K)
    ggrad = np.empty((K - 1) * (d + 1))
    gneg = np.empty(((K - 1) * (d + 1), (K - 1) * (d + 1)))
    out = np.zeros(3)
    hist = np.empty(n_iter + 1)
    _estep_softmax_lif(X, F, y, w, gc, gb, B, var, R, Rold, False, gram, moment,
                       mass, ggrad, gneg, out)
    hist[0] = out[0]
    for it in range(n_iter):
        hist[it + 1] = step_softmax_lif(X, F, y, w, gc, gb, B, var, var_floor, R,
                                        Rold, gram, moment, mass, ggrad, gneg, out)
    return hist


# --------------------------------------------------------------------------
# 2. normalized sigmoid gate (all rows free) + linear experts
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _log_sigmoid(z):
    if z >= 0.0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


@njit(cache=CACHE)
def _sigmoid_log_weights(z, lz):
    K = z.shape[0]
    m = -np.inf
    for k in range(K):
        lz[k] = _log_sigmoid(z[k])
        if lz[k] > m:
            m = lz[k]
    s = 0.0
    for k in range(K):
        s += math.exp(lz[k] - m)
    lse = m + math.log(s)
    for k in range(K):
        lz[k] -= lse


@njit(cache=CACHE)
def _sigmoid_objective(X, R, coef, intercept, terms, grad, neg, fisher):
    n, d = X.shape
    K = coef.shape[0]
    p = d + 1
    z = np.empty(K)
    lz = np.empty(K)
    s = np.empty(K)
    c = np.empty(K)
    g = np.empty(K)
    av = np.empty(K)
    xr = np.empty(p)
    xr[d] = 1.0
    if terms:
        grad[:] = 0.0
        neg[:, :] = 0.0
        fisher[:, :] = 0.0
    value = 0.0
    for i in range(n):
        _logits(X, i, coef, intercept, z)
        _sigmoid_log_weights(z, lz)
        wsum = 0.0
        for k in range(K):
            r = R[i, k]
            wsum += r
            if r != 0.0:
                value += r * lz[k]
        if not terms:
            continue
        for j in range(d):
            xr[j] = X[i, j]
        for k in range(K):
            s[k] = math.exp(_log_sigmoid(z[k]))
            c[k] = math.exp(_log_sigmoid(-z[k]))
            g[k] = math.exp(lz[k])
            av[k] = g[k] * c[k]
        for k in range(K):
            gk = c[k] * (R[i, k] - wsum * g[k])
            dk = s[k] * c[k] * (R[i, k] - wsum * g[k])
            for a in range(p):
                grad[k * p + a] += gk * xr[a]
            for l in range(k, K):
                f = wsum * ((g[k] * c[k] * c[k] if k == l else 0.0) - av[k] * av[l])
                h = f + (dk if k == l else 0.0)
                for a in range(p):
                    for b in range(p):
                        xab = xr[a] * xr[b]
                        fisher[k * p + a, l * p + b] += f * xab
                        neg[k * p + a, l * p + b] += h * xab
    if terms:
        for a in range(K * p):
            for b in range(a):
                fisher[a, b] = fisher[b, a]
                neg[a, b] = neg[b, a]
    return value


@njit(cache=CACHE)
def _split_theta(theta, coef, intercept):
    K, d = coef.shape
    for k in range(K):
        for j in range(d):
            coef[k, j] = theta[k * (d + 1) + j]
        intercept[k] = theta[k * (d + 1) + d]


@njit(cache=CACHE)
def _newton_sigmoid(X, R, coef, intercept, max_iter, step_tol, pinned):
    """skmoe's newton_sigmoid_ascent (exact Hessian, else Fisher; Armijo).

    With ``pinned`` the last row is held (the first ``K - 1`` rows' blocks).
    """
    K, d = coef.shape
    m = K * (d + 1)
    mf = m - (d + 1) if pinned else m
    theta = np.empty(m)
    for k in range(K):
        for j in range(d):
            theta[k * (d + 1) + j] = coef[k, j]
        theta[k * (d + 1) + d] = intercept[k]
    grad = np.empty(m)
    neg = np.empty((m, m))
    fisher = np.empty((m, m))
    step = np.zeros(m)
    trial = np.empty(m)
    g = np.empty(mf)
    sol = np.empty(mf)
    A = np.empty((mf, mf))
    Fm = np.empty((mf, mf))
    L = np.zeros((mf, mf))
    value = _sigmoid_objective(X, R, coef, intercept, True, grad, neg, fisher)
    for _ in range(max_iter):
        tr = 0.0
        for a in range(mf):
            tr += fisher[a, a]
        scale = max(tr / mf, 1e-300)
        for a in range(mf):
            g[a] = grad[a]
            for b in range(mf):
                A[a, b] = neg[a, b]
                Fm[a, b] = fisher[a, b]
            A[a, a] += 1e-10 * scale
        if _cholesky(A, L):
            _cho_solve(L, g, sol)
        elif not _damped_solve(Fm, g, sol, 1e-12):
            break
        slope = 0.0
        for a in range(mf):
            step[a] = sol[a]
            slope += g[a] * sol[a]
        if not slope > 0.0:
            break
        t = 1.0
        ok = False
        for _ in range(40):
            for a in range(m):
                trial[a] = theta[a] + t * step[a]
            _split_theta(trial, coef, intercept)
            v = _sigmoid_objective(X, R, coef, intercept, False, grad, neg, fisher)
            if v >= value + 1e-4 * t * slope:
                ok = True
                break
            t *= 0.5
        if not ok:
            _split_theta(theta, coef, intercept)
            break
        big_step = 0.0
        big_theta = 0.0
        for a in range(m):
            theta[a] = trial[a]
            big_step = max(big_step, abs(t * step[a]))
            big_theta = max(big_theta, abs(theta[a]))
        if big_step <= step_tol * (1.0 + big_theta):
            break
        value = _sigmoid_objective(X, R, coef, intercept, True, grad, neg, fisher)


@njit(cache=CACHE)
def _estep_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, groups, top_k, B, var, R,
                       gram, moment, mass):
    """E-step pass for a gate ``kind`` (1 sigmoid, 2 hierarchical, 3 top-K,
    4 sigmoid with the last row pinned, 5 top-K normalized sigmoid, pinned)
    and linear experts: responsibilities into R, Gram matrices; the
    log-likelihood."""
    n, d = X.shape
    K = gc.shape[0]
    p = d + 1
    gram[:, :, :] = 0.0
    moment[:, :] = 0.0
    mass[:] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    a = np.empty(K)
    f = np.empty(p)
    f[d] = 1.0
    G = g2c.shape[0]
    zg = np.empty(G)
    lg = np.empty(G)
    pg = np.empty(G)
    msz = K // max(G, 1)
    order = np.empty(K, dtype=np.int64)
    log_norm = np.empty(K)
    half_prec = np.empty(K)
    for k in range(K):
        log_norm[k] = -0.5 * math.log(2.0 * math.pi * var[k])
        half_prec[k] = 0.5 / var[k]
    ll = 0.0
    for i in range(n):
        _gate_log_weights(X, i, kind, gc, gb, g2c, g2b, top_k, z, lz, pr, zg, lg,
                          pg, msz, order)
        for c in range(d):
            f[c] = X[i, c]
        for k in range(K):
            if lz[k] == -np.inf:
                a[k] = -np.inf
                continue
            mu = B[k, d]
            for c in range(d):
                mu += f[c] * B[k, c]
            e = y[i] - mu
            a[k] = lz[k] + log_norm[k] - e * e * half_prec[k]
        ll += _row_posterior(a, w[i], R, i, mass)
        _add_gram_row(f, y[i], R, i, gram, moment)
    return ll


@njit(cache=CACHE)
def _gate_log_weights(X, i, kind, gc, gb, g2c, g2b, top_k, z, lz, pr, zg, lg, pg,
                      msz, order):
    """Log gate weights of row ``i`` into ``lz`` for gate ``kind``."""
    _logits(X, i, gc, gb, z)
    if kind == 1 or kind == 4:
        _sigmoid_log_weights(z, lz)
    elif kind == 2:
        G = zg.shape[0]
        _logits(X, i, g2c, g2b, zg)
        _log_softmax(zg, lg, pg)
        for g in range(G):
            m = -np.inf
            for k in range(g * msz, (g + 1) * msz):
                if z[k] > m:
                    m = z[k]
            s = 0.0
            for k in range(g * msz, (g + 1) * msz):
                s += math.exp(z[k] - m)
            lse = m + math.log(s)
            for k in range(g * msz, (g + 1) * msz):
                lz[k] = lg[g] + z[k] - lse
    elif kind == 3:
        _topk_log_softmax(z, top_k, lz, order)
    elif kind == 5:
        _topk_log_sigmoid(z, top_k, lz, order)
    else:
        _log_softmax(z, lz, pr)


@njit(cache=CACHE)
def _topk_log_softmax(z, top_k, lz, order):
    """Log-softmax over the ``top_k`` largest logits (ties: lower index)."""
    K = z.shape[0]
    for k in range(K):
        j = k
        while j > 0 and z[order[j - 1]] < z[k]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = k
    m = z[order[0]]
    s = 0.0
    for j in range(top_k):
        s += math.exp(z[order[j]] - m)
    lse = m + math.log(s)
    for k in range(K):
        lz[k] = -np.inf
    for j in range(top_k):
        lz[order[j]] = z[order[j]] - lse


@njit(cache=CACHE)
def _topk_log_sigmoid(z, top_k, lz, order):
    """Normalized sigmoid over the ``top_k`` largest logits (ties: lower index)."""
    K = z.shape[0]
    for k in range(K):
        j = k
        while j > 0 and z[order[j - 1]] < z[k]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = k
    m = -np.inf
    for j in range(top_k):
        lz[order[j]] = _log_sigmoid(z[order[j]])
        m = max(m, lz[order[j]])
    s = 0.0
    for j in range(top_k):
        s += math.exp(lz[order[j]] - m)
    lse = m + math.log(s)
    for j in range(top_k):
        lz[order[j]] -= lse
    for j in range(top_k, K):
        lz[order[j]] = -np.inf


@njit(cache=CACHE)
def step_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, top_k, B, var, var_floor, R,
                     gram, moment, mass):
    """One EM iteration for gate ``kind`` (1 to 5) and linear experts."""
    n, d = X.shape
    K = gc.shape[0]
    _wls(gram, moment, mass, B)
    rss = np.empty(K)
    _rss_lif(X, y, R, B, rss)
    _variances(rss, mass, var, var_floor)
    if kind == 1 or kind == 4:
        _newton_sigmoid(X, R, gc, gb, 3, 1e-9, kind == 4)
    elif kind == 2:
        _hier_gate_step(X, R, gc, gb, g2c, g2b)
    else:
        _topk_gate_step(X, y, w, gc, gb, top_k, B, var, kind == 5)
    return _estep_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, g2c.shape[0],
                              top_k, B, var, R, gram, moment, mass)


@njit(cache=CACHE)
def _hier_gate_step(X, R, gc, gb, g2c, g2b):
    """Newton steps of the group softmax and of each group's softmax."""
    n, d = X.shape
    K = gc.shape[0]
    G = g2c.shape[0]
    m = K // G
    Rg = np.zeros((n, G))
    for i in range(n):
        for g in range(G):
            s = 0.0
            for k in range(g * m, (g + 1) * m):
                s += R[i, k]
            Rg[i, g] = s
    q = (G - 1) * (d + 1)
    grad = np.empty(q)
    neg = np.empty((q, q))
    v = _softmax_objective(X, Rg, 0, g2c, g2b, True, grad, neg)
    _newton_softmax_step(X, Rg, 0, g2c, g2b, v, grad, neg)
    q = (m - 1) * (d + 1)
    grad = np.empty(q)
    neg = np.empty((q, q))
    for g in range(G):
        c = np.ascontiguousarray(gc[g * m:(g + 1) * m])
        b = np.ascontiguousarray(gb[g * m:(g + 1) * m])
        v = _softmax_objective(X, R, g * m, c, b, True, grad, neg)
        _newton_softmax_step(X, R, g * m, c, b, v, grad, neg)
        for k in range(m):
            for j in range(d):
                gc[g * m + k, j] = c[k, j]
            gb[g * m + k] = b[k]


@njit(cache=CACHE)
def _observed_topk(X, w, gc, gb, top_k, logp, sig):
    """Observed log-likelihood with the top-K gate (the normalized sigmoid's
    if ``sig``) and fixed log-densities."""
    n = X.shape[0]
    K = gc.shape[0]
    z = np.empty(K)
    lz = np.empty(K)
    order = np.empty(K, dtype=np.int64)
    total = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        if sig:
            _topk_log_sigmoid(z, top_k, lz, order)
        else:
            _topk_log_softmax(z, top_k, lz, order)
        m = -np.inf
        for k in range(K):
            if lz[k] != -np.inf and lz[k] + logp[i, k] > m:
                m = lz[k] + logp[i, k]
        s = 0.0
        for k in range(K):
            if lz[k] != -np.inf:
                s += math.exp(lz[k] + logp[i, k] - m)
        total += w[i] * (m + math.log(s))
    return total


@njit(cache=CACHE)
def _topk_gate_step(X, y, w, gc, gb, top_k, B, var, sig):
    """ECME gate update of the exact top-K softmax (normalized sigmoid if
    ``sig``, pinned): dense proposal, halvings, L-BFGS refinement."""
    n, d = X.shape
    K = gc.shape[0]
    logp = np.empty((n, K))
    T = np.empty((n, K))
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    for i in range(n):
        for k in range(K):
            mu = B[k, d]
            for c in range(d):
                mu += X[i, c] * B[k, c]
            e = y[i] - mu
            logp[i, k] = -0.5 * math.log(2.0 * math.pi * var[k]) - 0.5 * e * e / var[k]
        # posterior under the dense gate
        _logits(X, i, gc, gb, z)
        if sig:
            _sigmoid_log_weights(z, lz)
        else:
            _log_softmax(z, lz, pr)
        m = -np.inf
        for k in range(K):
            lz[k] += logp[i, k]
            if lz[k] > m:
                m = lz[k]
        s = 0.0
        for k in range(K):
            s += math.exp(lz[k] - m)
        for k in range(K):
            T[i, k] = w[i] * math.exp(lz[k] - m - math.log(s))
    v0 = _observed_topk(X, w, gc, gb, top_k, logp, sig)
    c0 = gc.copy()
    b0 = gb.copy()
    if sig:
        _newton_sigmoid(X, T, gc, gb, 3, 1e-9, True)
    else:
        q = (K - 1) * (d + 1)
        grad = np.empty(q)
        neg = np.empty((q, q))
        v = _softmax_objective(X, T, 0, gc, gb, True, grad, neg)
        _newton_softmax_step(X, T, 0, gc, gb, v, grad, neg)
    c1 = gc.copy()
    b1 = gb.copy()
    if not np.isfinite(v0):
        return
    margin = 1e-12 * max(abs(v0), 1.0)
    t = 1.0
    accepted = False
    for _ in range(6):
        for k in range(K):
            for j in range(d):
                gc[k, j] = c0[k, j] + t * (c1[k, j] - c0[k, j])
            gb[k] = b0[k] + t * (b1[k] - b0[k])
        if _observed_topk(X, w, gc, gb, top_k, logp, sig) > v0 + margin:
            accepted = True
            break
        t *= 0.5
    if not accepted:
        for k in range(K):
            for j in range(d):
                gc[k, j] = c0[k, j]
            gb[k] = b0[k]
    _lbfgs_topk(X, w, gc, gb, top_k, logp, 5, 6, 1e-9, 1e-10 * w.sum(), sig)


@njit(cache=CACHE)
def _topk_value_grad(X, w, theta, top_k, logp, gc, gb, grad, sig):
    """Observed log-likelihood and its gradient in the free top-K gate rows
    (the normalized sigmoid's: the softmax's times ``sigmoid(-z)``)."""
    n, d = X.shape
    K = gc.shape[0]
    p = d + 1
    for k in range(K - 1):
        for j in range(d):
            gc[k, j] = theta[k * p + j]
        gb[k] = theta[k * p + d]
    z = np.empty(K)
    lz = np.empty(K)
    a = np.empty(K)
    order = np.empty(K, dtype=np.int64)
    for q in range(grad.shape[0]):
        grad[q] = 0.0
    total = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        if sig:
            _topk_log_sigmoid(z, top_k, lz, order)
        else:
            _topk_log_softmax(z, top_k, lz, order)
        m = -np.inf
        for k in range(K):
            a[k] = lz[k] + logp[i, k] if lz[k] != -np.inf else -np.inf
            if a[k] > m:
                m = a[k]
        s = 0.0
        for k in range(K):
            if a[k] != -np.inf:
                s += math.exp(a[k] - m)
        lse = m + math.log(s)
        total += w[i] * lse
        # G = w * posterior, g = gate; dz = G - g sum(G) (sum(G) = w)
        for k in range(K - 1):
            if a[k] == -np.inf:
                continue
            dz = w[i] * math.exp(a[k] - lse) - math.exp(lz[k]) * w[i]
            if sig:
                dz *= math.exp(_log_sigmoid(-z[k]))
            for j in range(d):
                grad[k * p + j] += dz * X[i, j]
            grad[k * p + d] += dz
    return total


@njit(cache=CACHE)
def _dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=CACHE)
def _axpy(alpha, x, y):
    for i in range(x.shape[0]):
        y[i] += alpha * x[i]


@njit(cache=CACHE)
def _max_abs(a):
    m = 0.0
    for i in range(a.shape[0]):
        m = max(m, abs(a[i]))
    return m


@njit(cache=CACHE)
def _lbfgs_topk(X, w, gc, gb, top_k, logp, max_iter, memory, step_tol, grad_tol,
                sig):
    """skmoe's maximize_monotone on the observed log-likelihood (fixed logp)."""
    d = X.shape[1]
    K = gc.shape[0]
    p = d + 1
    q = (K - 1) * p
    theta = np.empty(q)
    for k in range(K - 1):
        for j in range(d):
            theta[k * p + j] = gc[k, j]
        theta[k * p + d] = gb[k]
    grad = np.empty(q)
    g_new = np.empty(q)
    new = np.empty(q)
    direc = np.empty(q)
    S = np.zeros((memory, q))
    Y = np.zeros((memory, q))
    alphas = np.zeros(memory)
    st = np.empty(q)
    yv = np.empty(q)
    n_pairs = 0
    value = _topk_value_grad(X, w, theta, top_k, logp, gc, gb, grad, sig)
    if not np.isfinite(value):
        return
    for _ in range(max_iter):
        if _max_abs(grad) <= grad_tol:
            break
        _copy(grad, direc)
        for r in range(n_pairs - 1, -1, -1):
            al = _dot(S[r], direc) / _dot(Y[r], S[r])
            alphas[r] = al
            _axpy(-al, Y[r], direc)
        if n_pairs:
            scale = (_dot(S[n_pairs - 1], Y[n_pairs - 1])
                     / _dot(Y[n_pairs - 1], Y[n_pairs - 1]))
        else:
            scale = 1.0 / max(_max_abs(direc), 1.0)
        for a in range(q):
            direc[a] *= scale
        for r in range(n_pairs):
            be = _dot(Y[r], direc) / _dot(Y[r], S[r])
            _axpy(alphas[r] - be, S[r], direc)
        slope = _dot(grad, direc)
        if not slope > 0:
            scale = 1.0 / max(_max_abs(grad), 1.0)
            for a in range(q):
                direc[a] = grad[a] * scale
            slope = _dot(grad, direc)
            n_pairs = 0
        if not slope > 0:
            break
        t = 1.0
        ok = False
        for _ in range(40):
            for a in range(q):
                new[a] = theta[a] + t * direc[a]
            v_new = _topk_value_grad(X, w, new, top_k, logp, gc, gb, g_new, sig)
            if v_new >= value + 1e-4 * t * slope:
                ok = True
                break
            t *= 0.5
        if not ok:
            break
        for a in range(q):
            st[a] = new[a] - theta[a]
            yv[a] = grad[a] - g_new[a]
        if _dot(yv, st) > 1e-12 * np.sqrt(_dot(yv, yv) * _dot(st, st)):
            if n_pairs == memory:
                for r in range(memory - 1):
                    _copy(S[r + 1], S[r])
                    _copy(Y[r + 1], Y[r])
                n_pairs -= 1
            _copy(st, S[n_pairs])
            _copy(yv, Y[n_pairs])
            n_pairs += 1
        _copy(new, theta)
        value = v_new
        _copy(g_new, grad)
        if _max_abs(st) <= step_tol * (1.0 + _max_abs(theta)):
            break
    for k in range(K - 1):
        for j in range(d):
            gc[k, j] = theta[k * p + j]
        gb[k] = theta[k * p + d]


@njit(cache=CACHE)
def loop_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, top_k, B, var, var_floor,
                     n_iter):
    n, d = X.shape
    K = gc.shape[0]
    p = d + 1
    R = np.empty((n, K))
    gram = np.empty((K, p, p))
    moment = np.empty((K, p))
    mass = np.empty(K)
    hist = np.empty(n_iter + 1)
    hist[0] = _estep_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, g2c.shape[0],
                                 top_k, B, var, R, gram, moment, mass)
    for it in range(n_iter):
        hist[it + 1] = step_gate_linear(X, y, w, kind, gc, gb, g2c, g2b, top_k, B,
                                        var, var_floor, R, gram, moment, mass)
    return hist


# --------------------------------------------------------------------------
# 3. softmax gate + FFN experts h(x) = a act(b.x + c) + e
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _act(z, code):
    if code == SIGMOID:
        if z >= 0.0:
            s = 1.0 / (1.0 + math.exp(-z))
        else:
            e = math.exp(z)
            s = e / (1.0 + e)
        return s, s * (1.0 - s)
    if code == TANH:
        t = math.tanh(z)
        return t, 1.0 - t * t
    if z > 0.0:
        return z, 1.0
    return 0.0, 0.0


@njit(cache=CACHE)
def _ffn_mean(X, i, P, k, code):
    d = X.shape[1]
    z = P[k, d + 1]
    for j in range(d):
        z += P[k, 1 + j] * X[i, j]
    s, _ = _act(z, code)
    return P[k, 0] * s + P[k, d + 2]


@njit(cache=CACHE)
def _estep_softmax_ffn(X, y, w, gc, gb, P, code, var, R, ggrad, gneg, mass, out):
    n, d = X.shape
    K = gc.shape[0]
    ggrad[:] = 0.0
    gneg[:, :] = 0.0
    mass[:] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    a = np.empty(K)
    xr = np.empty(d + 1)
    xr[d] = 1.0
    ll = 0.0
    gv = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        _log_softmax(z, lz, pr)
        for k in range(K):
            e = y[i] - _ffn_mean(X, i, P, k, code)
            a[k] = lz[k] - 0.5 * math.log(2.0 * math.pi * var[k]) - 0.5 * e * e / var[k]
        ll += _row_posterior(a, w[i], R, i, mass)
        gv += _row_gate(X, i, R, lz, pr, xr, ggrad, gneg)
    _symmetrize(gneg)
    out[0] = ll
    out[1] = gv
    return ll


@njit(cache=CACHE)
def _ffn_nls(X, y, R, P, code, sse, jte, jtj):
    """skmoe's ffn_nls: weighted SSE, J^T e and J^T J of every expert."""
    n, d = X.shape
    K = P.shape[0]
    q = d + 3
    sse[:] = 0.0
    jte[:, :] = 0.0
    jtj[:, :, :] = 0.0
    J = np.empty(q)
    J[q - 1] = 1.0
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r == 0.0:
                continue
            z = P[k, d + 1]
            for j in range(d):
                z += P[k, 1 + j] * X[i, j]
            s, ds = _act(z, code)
            e = y[i] - (P[k, 0] * s + P[k, d + 2])
            sse[k] += r * e * e
            az = P[k, 0] * ds
            J[0] = s
            for j in range(d):
                J[1 + j] = az * X[i, j]
            J[d + 1] = az
            re = r * e
            for a in range(q):
                jte[k, a] += re * J[a]
                ra = r * J[a]
                for b in range(a, q):
                    jtj[k, a, b] += ra * J[b]
    for k in range(K):
        for a in range(q):
            for b in range(a + 1, q):
                jtj[k, b, a] = jtj[k, a, b]


@njit(cache=CACHE)
def _lm_update(X, y, R, P, code, mass, sse):
    """skmoe's FFN m_step: Levenberg-Marquardt, 3 steps x 10 damping tries.

    Leaves in ``sse`` the weighted sums of squares at the returned ``P``.
    """
    K, q = P.shape
    jte = np.empty((K, q))
    jtj = np.empty((K, q, q))
    sse_t = np.empty(K)
    jte_t = np.empty((K, q))
    jtj_t = np.empty((K, q, q))
    total = mass.sum()
    todo = mass > 1e-10 * total
    lam = np.full(K, 1e-3)
    _ffn_nls(X, y, R, P, code, sse, jte, jtj)
    A = np.empty((q, q))
    stp = np.empty(q)
    L = np.zeros((q, q))
    converged = np.zeros(K, dtype=np.bool_)
    for _ in range(3):
        if not todo.any():
            break
        trying = todo.copy()
        accepted = np.zeros(K, dtype=np.bool_)
        converged[:] = False
        for _ in range(10):
            if not trying.any():
                break
            trial = P.copy()
            for k in range(K):
                if not trying[k]:
                    continue
                dm = 0.0
                for a in range(q):
                    dm += jtj[k, a, a]
                mu = 1e-12 * max(dm / q, 1e-300)
                for a in range(q):
                    for b in range(q):
                        A[a, b] = jtj[k, a, b]
                    A[a, a] += lam[k] * (jtj[k, a, a] + mu)
                if not _cholesky(A, L):
                    _damped_solve(A, jte[k], stp, 1e-12)
                else:
                    _cho_solve(L, jte[k], stp)
                size = 0.0
                big = 0.0
                for a in range(q):
                    trial[k, a] += stp[a]
                    size = max(size, abs(stp[a]))
                    big = max(big, abs(P[k, a]))
                converged[k] = size <= 1e-10 * (1.0 + big)
            _ffn_nls(X, y, R, trial, code, sse_t, jte_t, jtj_t)
            for k in range(K):
                if trying[k] and np.isfinite(sse_t[k]) and sse_t[k] <= sse[k]:
                    _copy(trial[k], P[k])
                    sse[k] = sse_t[k]
                    _copy(jte_t[k], jte[k])
                    _copy(jtj_t[k], jtj[k])
                    accepted[k] = True
                    lam[k] = max(lam[k] / 10.0, 1e-15)
                    trying[k] = False
                elif trying[k]:
                    lam[k] *= 10.0
        todo = accepted & ~converged


@njit(cache=CACHE)
def step_softmax_ffn(X, y, w, gc, gb, P, code, var, var_floor, R, ggrad, gneg, mass,
                     out):
    K = gc.shape[0]
    sse = np.empty(K)
    _lm_update(X, y, R, P, code, mass, sse)
    _variances(sse, mass, var, var_floor)
    _newton_softmax_step(X, R, 0, gc, gb, out[1], ggrad, gneg)
    return _estep_softmax_ffn(X, y, w, gc, gb, P, code, var, R, ggrad, gneg, mass,
                              out)


@njit(cache=CACHE)
def loop_softmax_ffn(X, y, w, gc, gb, P, code, var, var_floor, n_iter):
    n, d = X.shape
    K = gc.shape[0]
    q = (K - 1) * (d + 1)
    R = np.empty((n, K))
    ggrad = np.empty(q)
    gneg = np.empty((q, q))
    mass = np.empty(K)
    out = np.zeros(3)
    hist = np.empty(n_iter + 1)
    hist[0] = _estep_softmax_ffn(X, y, w, gc, gb, P, code, var, R, ggrad, gneg,
                                 mass, out)
    for it in range(n_iter):
        hist[it + 1] = step_softmax_ffn(X, y, w, gc, gb, P, code, var, var_floor, R,
                                        ggrad, gneg, mass, out)
    return hist


# --------------------------------------------------------------------------
# 4. softmax gate + linear experts + Student-t noise (ECM)
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _digamma(x):
    r = 0.0
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    t = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (
        1.0 / 240.0 + f * (-1.0 / 132.0 + f * (691.0 / 32760.0))))))
    return r + math.log(x) - 0.5 / x + t


@njit(cache=CACHE)
def _df_eq(nu, c):
    return math.log(0.5 * nu) - _digamma(0.5 * nu) + 1.0 + c


@njit(cache=CACHE)
def _solve_df(mlu, df_old):
    c = mlu + _digamma(0.5 * (df_old + 1.0)) - math.log(0.5 * (df_old + 1.0))
    lo, hi = 1.0, 200.0
    if _df_eq(lo, c) <= 0.0:
        return lo
    if _df_eq(hi, c) >= 0.0:
        return hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _df_eq(mid, c) > 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 + 4e-16 * mid:
            break
    return 0.5 * (lo + hi)


@njit(cache=CACHE)
def _estep_softmax_t(X, y, w, gc, gb, B, var, df, R, U, ggrad, gneg, mass, out):
    """E-step pass with t densities; R, scale weights U, gate terms."""
    n, d = X.shape
    K = gc.shape[0]
    ggrad[:] = 0.0
    gneg[:, :] = 0.0
    mass[:] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    a = np.empty(K)
    xr = np.empty(d + 1)
    xr[d] = 1.0
    lnorm = np.empty(K)
    for k in range(K):
        h = 0.5 * df[k]
        lnorm[k] = (math.lgamma(h + 0.5) - math.lgamma(h)
                    - 0.5 * math.log(math.pi * df[k] * var[k]))
    ll = 0.0
    gv = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        _log_softmax(z, lz, pr)
        for k in range(K):
            mu = B[k, d]
            for j in range(d):
                mu += X[i, j] * B[k, j]
            e = y[i] - mu
            z2 = e * e / var[k]
            U[i, k] = (df[k] + 1.0) / (df[k] + z2)
            a[k] = lz[k] + lnorm[k] - 0.5 * (df[k] + 1.0) * math.log1p(z2 / df[k])
        ll += _row_posterior(a, w[i], R, i, mass)
        gv += _row_gate(X, i, R, lz, pr, xr, ggrad, gneg)
    _symmetrize(gneg)
    out[0] = ll
    out[1] = gv
    return ll


@njit(cache=CACHE)
def step_softmax_t(X, y, w, gc, gb, B, var, df, fit_df, var_floor, R, U, ggrad,
                   gneg, mass, out):
    n, d = X.shape
    K = gc.shape[0]
    p = d + 1
    gram = np.zeros((K, p, p))
    moment = np.zeros((K, p))
    f = np.empty(p)
    f[d] = 1.0
    for i in range(n):
        for j in range(d):
            f[j] = X[i, j]
        for k in range(K):
            r = R[i, k] * U[i, k]
            if r != 0.0:
                for a in range(p):
                    ra = r * f[a]
                    moment[k, a] += ra * y[i]
                    for b in range(a, p):
                        gram[k, a, b] += ra * f[b]
    # the WLS threshold is on the responsibility masses (skmoe's m_step sums
    # the weights it is given: R * u)
    wmass = np.zeros(K)
    for i in range(n):
        for k in range(K):
            wmass[k] += R[i, k] * U[i, k]
    _wls(gram, moment, wmass, B)
    rss = np.zeros(K)
    mlu = np.zeros(K)
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            if r != 0.0:
                mu = B[k, d]
                for j in range(d):
                    mu += X[i, j] * B[k, j]
                e = y[i] - mu
                rss[k] += r * U[i, k] * e * e
                mlu[k] += r * (math.log(U[i, k]) - U[i, k])
    _variances(rss, mass, var, var_floor)
    if fit_df:
        total = mass.sum()
        for k in range(K):
            if mass[k] > 1e-10 * total:
                df[k] = _solve_df(mlu[k] / mass[k], df[k])
    _newton_softmax_step(X, R, 0, gc, gb, out[1], ggrad, gneg)
    return _estep_softmax_t(X, y, w, gc, gb, B, var, df, R, U, ggrad, gneg, mass,
                            out)


@njit(cache=CACHE)
def loop_softmax_t(X, y, w, gc, gb, B, var, df, fit_df, var_floor, n_iter):
    n, d = X.shape
    K = gc.shape[0]
    q = (K - 1) * (d + 1)
    R = np.empty((n, K))
    U = np.empty((n, K))
    ggrad = np.empty(q)
    gneg = np.empty((q, q))
    mass = np.empty(K)
    out = np.zeros(3)
    hist = np.empty(n_iter + 1)
    hist[0] = _estep_softmax_t(X, y, w, gc, gb, B, var, df, R, U, ggrad, gneg, mass,
                               out)
    for it in range(n_iter):
        hist[it + 1] = step_softmax_t(X, y, w, gc, gb, B, var, df, fit_df,
                                      var_floor, R, U, ggrad, gneg, mass, out)
    return hist


# --------------------------------------------------------------------------
# 5. Gaussian gate (diagonal covariances) + linear experts
# --------------------------------------------------------------------------


@njit(cache=CACHE)
def _estep_gaussian_linear(X, G, y, w, gc, gb, B, var, R, gram, moment, mass,
                           ggrad, gneg, out):
    """E-step pass: responsibilities, the experts' Gram matrices, gate terms.

    The gate is the softmax of the logits ``G gc^T + gb`` on the features
    ``G = [z, -z^2 / 2]`` of the whitened inputs; ``out``: [loglik, gate
    objective].
    """
    n, d = X.shape
    K = gc.shape[0]
    m = G.shape[1]
    p = d + 1
    gram[:, :, :] = 0.0
    moment[:, :] = 0.0
    mass[:] = 0.0
    ggrad[:] = 0.0
    gneg[:, :] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    a = np.empty(K)
    f = np.empty(p)
    f[d] = 1.0
    gr = np.empty(m + 1)
    gr[m] = 1.0
    ll = 0.0
    gv = 0.0
    for i in range(n):
        _logits(G, i, gc, gb, z)
        _log_softmax(z, lz, pr)
        for c in range(d):
            f[c] = X[i, c]
        for k in range(K):
            mu = B[k, d]
            for c in range(d):
                mu += f[c] * B[k, c]
            e = y[i] - mu
            a[k] = lz[k] - 0.5 * math.log(2.0 * math.pi * var[k]) - 0.5 * e * e / var[k]
        ll += _row_posterior(a, w[i], R, i, mass)
        _add_gram_row(f, y[i], R, i, gram, moment)
        gv += _row_gate(G, i, R, lz, pr, gr, ggrad, gneg)
    _symmetrize(gneg)
    out[0] = ll
    out[1] = gv
    return ll


@njit(cache=CACHE)
def _gaussian_proposal(Z, R, reg, coef, intercept):
    """Closed-form update (weighted means and diagonal variances in ``z``).

    The logit rows ``[c / v, 1 / v]`` and intercepts ``log pi + sum log(1 /
    v) / 2 - d log(2 pi) / 2 - sum c^2 / v / 2`` of every expert, minus the
    last expert's (``v`` the weighted variances plus ``reg``; the masses get
    ``10 eps`` of the total, as skmoe's and scikit-learn's).
    """
    n, d = Z.shape
    K = R.shape[1]
    nk = np.zeros(K)
    for i in range(n):
        for k in range(K):
            nk[k] += R[i, k]
    total = 0.0
    for k in range(K):
        total += nk[k]
    tiny = 10.0 * EPS * max(total, 1e-300)
    mass = 0.0
    for k in range(K):
        nk[k] += tiny
        mass += nk[k]
    c = np.empty(d)
    v = np.empty(d)
    for k in range(K):
        c[:] = 0.0
        v[:] = 0.0
        for i in range(n):
            for a in range(d):
                c[a] += R[i, k] * Z[i, a]
        for a in range(d):
            c[a] /= nk[k]
        for i in range(n):
            for a in range(d):
                e = Z[i, a] - c[a]
                v[a] += e * e * R[i, k]
        s = math.log(nk[k] / mass) - 0.5 * d * math.log(2.0 * math.pi)
        for a in range(d):
            prec = 1.0 / (v[a] / nk[k] + reg[a])
            coef[k, a] = prec * c[a]
            coef[k, d + a] = prec
            s += 0.5 * math.log(prec) - 0.5 * prec * c[a] * c[a]
        intercept[k] = s
    for k in range(K):
        for j in range(2 * d):
            coef[k, j] -= coef[K - 1, j]
        intercept[k] -= intercept[K - 1]


@njit(cache=CACHE)
def step_gaussian_linear(X, G, Z, y, w, reg, gc, gb, B, var, var_floor, R, gram,
                         moment, mass, ggrad, gneg, out):
    """One EM iteration: WLS, variances, the gate's proposal and Newton step."""
    K = gc.shape[0]
    _wls(gram, moment, mass, B)
    rss = np.empty(K)
    _rss_lif(X, y, R, B, rss)
    _variances(rss, mass, var, var_floor)
    value = out[1]
    c1 = np.empty_like(gc)
    i1 = np.empty_like(gb)
    _gaussian_proposal(Z, R, reg, c1, i1)
    proposed = _softmax_objective(G, R, 0, c1, i1, False, ggrad, gneg)
    if proposed > value + 1e-12 * max(abs(value), 1.0):
        _copy(c1, gc)
        _copy(i1, gb)
        value = _softmax_objective(G, R, 0, gc, gb, True, ggrad, gneg)
    _newton_softmax_step(G, R, 0, gc, gb, value, ggrad, gneg)
    return _estep_gaussian_linear(X, G, y, w, gc, gb, B, var, R, gram, moment, mass,
                                  ggrad, gneg, out)


@njit(cache=CACHE)
def loop_gaussian_linear(X, G, Z, y, w, reg, gc, gb, B, var, var_floor, n_iter):
    """Initial E-step and ``n_iter`` iterations; the log-likelihood history."""
    n, d = X.shape
    K = gc.shape[0]
    q = (K - 1) * (G.shape[1] + 1)
    R = np.empty((n, K))
    gram = np.empty((K, d + 1, d + 1))
    moment = np.empty((K, d + 1))
    mass = np.empty(K)
    ggrad = np.empty(q)
    gneg = np.empty((q, q))
    out = np.zeros(3)
    hist = np.empty(n_iter + 1)
    hist[0] = _estep_gaussian_linear(X, G, y, w, gc, gb, B, var, R, gram, moment,
                                     mass, ggrad, gneg, out)
    for it in range(n_iter):
        hist[it + 1] = step_gaussian_linear(X, G, Z, y, w, reg, gc, gb, B, var,
                                            var_floor, R, gram, moment, mass, ggrad,
                                            gneg, out)
    return hist


# --------------------------------------------------------------------------
# 6. softmax gate + GLM experts (linear or FFN): Poisson (log link) or
#    binomial (logit link)
# --------------------------------------------------------------------------
POISSON, BINOMIAL = 0, 1


@njit(cache=CACHE)
def _glm_logpmf(law, y, eta, a, c):
    """``log p(y | eta)`` of a row with ``a`` trials and constant term ``c``
    (``-log y!`` or ``log C(a, a y)``)."""
    if law == POISSON:
        return y * eta - math.exp(eta) + c
    s = a * y
    v = c
    if s != 0.0:
        v += s * _log_sigmoid(eta)
    if a - s != 0.0:
        v += (a - s) * _log_sigmoid(-eta)
    return v


@njit(cache=CACHE)
def _glm_working(law, y, eta, a):
    """IRLS working response and weight (floored derivative of the mean)."""
    if law == POISSON:
        mu = math.exp(eta)
        dmu = mu
    else:
        mu = 1.0 / (1.0 + math.exp(-eta))
        dmu = mu * (1.0 / (1.0 + math.exp(eta)))
    dmu = max(dmu, EPS)
    return eta + (y - mu) / dmu, a * dmu


@njit(cache=CACHE)
def _glm_eta(X, i, row, code):
    """The predictor of row ``row`` (shape (p,)) at ``X[i]``: linear experts
    (``code < 0``; slopes then intercept) or an FFN unit (activation code)."""
    d = X.shape[1]
    if code < 0:
        e = row[d]
        for j in range(d):
            e += X[i, j] * row[j]
        return e
    z = row[d + 1]
    for j in range(d):
        z += row[1 + j] * X[i, j]
    s, _ = _act(z, code)
    return row[0] * s + row[d + 2]


@njit(cache=CACHE)
def _glm_q(law, X, y, a, c, R, k, row, code, eta_out):
    """``sum_i R_ik log p(y_i | eta(x_i; row))``; the predictors into ``eta_out``."""
    n = X.shape[0]
    q = 0.0
    for i in range(n):
        e = _glm_eta(X, i, row, code)
        eta_out[i] = e
        if R[i, k] > 0.0:
            q += R[i, k] * _glm_logpmf(law, y[i], e, a[i], c[i])
    return q


@njit(cache=CACHE)
def _irls_glm(law, X, y, a, c, sat, R, B, code, eta):
    """skmoe's GLM expert step: per expert up to 25 IRLS iterations, each the
    experts' update on the working response (weighted least squares for
    linear experts, ``code < 0``; skmoe's Levenberg-Marquardt FFN update
    otherwise) with step-halving (30) until Q_k rises; stop when the
    weighted deviance changes by less than 1e-8 (|D| + 0.1). ``eta`` (n, K):
    the predictors at ``B``."""
    n, d = X.shape
    K, p = B.shape
    q = np.zeros(K)
    satk = np.zeros(K)
    mass = np.zeros(K)
    for i in range(n):
        for k in range(K):
            r = R[i, k]
            satk[k] += r * sat[i]
            mass[k] += r
            if r > 0.0:
                q[k] += r * _glm_logpmf(law, y[i], eta[i, k], a[i], c[i])
    total = mass.sum()
    active = np.empty(K, dtype=np.bool_)
    for k in range(K):
        active[k] = mass[k] > 1e-10 * total
    gram = np.empty((p, p))
    moment = np.empty(p)
    new = np.empty(p)
    row = np.empty(p)
    trial = np.empty(n)
    f = np.empty(p)
    f[p - 1] = 1.0
    zc = np.empty(n)
    Wc = np.empty((n, 1))
    Pc = np.empty((1, p))
    mc = np.empty(1)
    sse = np.empty(1)
    for _ in range(25):
        for k in range(K):
            if not active[k]:
                continue
            if code < 0:
                gram[:, :] = 0.0
                moment[:] = 0.0
                for i in range(n):
                    r = R[i, k]
                    if r == 0.0:
                        continue
                    z, ww = _glm_working(law, y[i], eta[i, k], a[i])
                    ww *= r
                    for j in range(d):
                        f[j] = X[i, j]
                    for u in range(p):
                        wu = ww * f[u]
                        moment[u] += wu * z
                        for v in range(u, p):
                            gram[u, v] += wu * f[v]
                _symmetrize(gram)
                if not _damped_solve(gram, moment, new, 0.0):
                    active[k] = False
                    continue
            else:
                mc[0] = 0.0
                for i in range(n):
                    z, ww = _glm_working(law, y[i], eta[i, k], a[i])
                    zc[i] = z
                    Wc[i, 0] = R[i, k] * ww
                    mc[0] += Wc[i, 0]
                for u in range(p):
                    Pc[0, u] = B[k, u]
                _lm_update(X, zc, Wc, Pc, code, mc, sse)
                for u in range(p):
                    new[u] = Pc[0, u]
            t = 1.0
            accepted = False
            qn = 0.0
            for _h in range(31):
                for u in range(p):
                    row[u] = new[u] if t == 1.0 else B[k, u] + t * (new[u] - B[k, u])
                qn = _glm_q(law, X, y, a, c, R, k, row, code, trial)
                if qn >= q[k]:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                active[k] = False
                continue
            dev_old = 2.0 * (satk[k] - q[k])
            dev = 2.0 * (satk[k] - qn)
            q[k] = qn
            for u in range(p):
                B[k, u] = row[u]
            for i in range(n):
                eta[i, k] = trial[i]
            if abs(dev - dev_old) < 1e-8 * (abs(dev) + 0.1):
                active[k] = False
        if not active.any():
            break


@njit(cache=CACHE)
def _estep_softmax_glm(X, y, a, c, w, law, gc, gb, B, code, eta, R, ggrad, gneg,
                       mass, out):
    """E-step pass with the GLM log-probabilities; R, predictors, gate terms."""
    n, d = X.shape
    K = gc.shape[0]
    ggrad[:] = 0.0
    gneg[:, :] = 0.0
    mass[:] = 0.0
    z = np.empty(K)
    lz = np.empty(K)
    pr = np.empty(K)
    v = np.empty(K)
    xr = np.empty(d + 1)
    xr[d] = 1.0
    ll = 0.0
    gv = 0.0
    for i in range(n):
        _logits(X, i, gc, gb, z)
        _log_softmax(z, lz, pr)
        for k in range(K):
            e = _glm_eta(X, i, B[k], code)
            eta[i, k] = e
            v[k] = lz[k] + _glm_logpmf(law, y[i], e, a[i], c[i])
        ll += _row_posterior(v, w[i], R, i, mass)
        gv += _row_gate(X, i, R, lz, pr, xr, ggrad, gneg)
    _symmetrize(gneg)
    out[0] = ll
    out[1] = gv
    return ll


@njit(cache=CACHE)
def step_softmax_glm(X, y, a, c, sat, w, law, gc, gb, B, code, eta, R, ggrad, gneg,
                     mass, out):
    """One EM iteration: IRLS experts, one Newton gate step, E-step pass."""
    _irls_glm(law, X, y, a, c, sat, R, B, code, eta)
    _newton_softmax_step(X, R, 0, gc, gb, out[1], ggrad, gneg)
    return _estep_softmax_glm(X, y, a, c, w, law, gc, gb, B, code, eta, R, ggrad,
                              gneg, mass, out)


@njit(cache=CACHE)
def loop_softmax_glm(X, y, a, c, sat, w, law, gc, gb, B, code, n_iter):
    n, d = X.shape
    K = gc.shape[0]
    q = (K - 1) * (d + 1)
    R = np.empty((n, K))
    eta = np.empty((n, K))
    ggrad = np.empty(q)
    gneg = np.empty((q, q))
    mass = np.empty(K)
    out = np.zeros(3)
    hist = np.empty(n_iter + 1)
    hist[0] = _estep_softmax_glm(X, y, a, c, w, law, gc, gb, B, code, eta, R, ggrad,
                                 gneg, mass, out)
    for it in range(n_iter):
        hist[it + 1] = step_softmax_glm(X, y, a, c, sat, w, law, gc, gb, B, code, eta,
                                        R, ggrad, gneg, mass, out)
    return hist
