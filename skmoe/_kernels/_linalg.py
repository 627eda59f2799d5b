"""Small dense linear algebra written as loops: Cholesky and symmetric solves.

The EM updates solve systems of a handful of unknowns (an expert's weighted
least squares, a gate's Newton step, a Levenberg-Marquardt step). These
kernels solve them inside compiled code, without LAPACK (``np.linalg`` in a
kernel costs seconds of compilation and allocates), and they are the only
implementation: the Python M-steps call them too.

- :func:`cholesky_into`: ``L L^T = A``, failing exactly where LAPACK's
  ``dpotrf`` fails (a pivot that is not positive);
- :func:`damped_cholesky_solve`: ``(A + lambda I) x = b`` with the smallest
  working ridge (``lambda`` from ``1e-12`` of the mean diagonal, tenfold until
  the factorisation succeeds), the Newton steps' rule;
- :func:`symmetric_lstsq`: the minimum-norm least-squares solution of a
  symmetric system, as ``np.linalg.lstsq(A, b, rcond=None)`` (eigenvalues
  below ``eps * m`` times the largest are dropped), by cyclic Jacobi;
- :func:`spd_solve`: Cholesky when the matrix is safely positive definite,
  else :func:`symmetric_lstsq` (same solution to round-off, far cheaper);
  :func:`spd_cholesky_solve` its Cholesky path alone.

Arrays are float64 and C-contiguous; every function writes only the arrays
documented as outputs.
"""

import math

import numpy as np

from ..utils._numba_cache import njit
from ._codesize import optimize_for_size

_EPS = float(np.finfo(np.float64).eps)

#: a pivot of :func:`spd_solve`'s Cholesky below this fraction of its
#: diagonal entry (the squared sine of the angle between a column and the
#: span of the previous ones) sends the system to the eigen-solver
_COLLINEAR = 1e-4


#: Relative round-off of a weighted sum over the rows at which a predicted
#: gain of an inner step is not verifiable: about ``sqrt(n) eps`` for
#: rounding errors of random sign (7e-14 at n = 1e5; the measured
#: differences between a trial's sum and the current one at the studies'
#: converged experts were 2e-15 to 1e-14). A constant, not a function of n,
#: so that integer weights and repeated rows meet the same rule.
ROUNDOFF = 1e-13


@njit(cache=True)
def cholesky_into(A, L):
    """Lower Cholesky factor of the symmetric ``A`` (its lower triangle is read).

    :func:`pivoted_cholesky_into` with pivots that only have to be positive.

    Parameters
    ----------
    A : ndarray of shape (m, m)
    L : ndarray of shape (m, m)
        Output: the factor in the lower triangle (the upper one is not
        written).

    Returns
    -------
    ok : bool
        False when a pivot is not positive (or NaN): ``A`` is not positive
        definite to working precision (LAPACK ``dpotrf``'s test).
    """
    return pivoted_cholesky_into(A, L, 0.0)


@njit(cache=True)
def pivoted_cholesky_into(A, L, rel):
    """:func:`cholesky_into` failing on a pivot at most ``rel`` times its
    diagonal entry (``rel = 0``: a pivot that is not positive)."""
    optimize_for_size()
    m = A.shape[0]
    for j in range(m):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not (s > 0.0 and (rel == 0.0 or s > rel * A[j, j])):
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, m):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / ljj
    return True


@njit(cache=True, inline="always")
def affine_row(X, i, coef, intercept, out):
    """``out[k] = intercept[k] + sum_j X[i, j] coef[k, j]`` (in this order)."""
    d = X.shape[1]
    for k in range(coef.shape[0]):
        s = intercept[k]
        for j in range(d):
            s += X[i, j] * coef[k, j]
        out[k] = s


@njit(cache=True)
def cholesky_solve_into(L, b, x):
    """Solve ``L L^T x = b`` by substitution; ``x`` is the output."""
    optimize_for_size()
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


@njit(cache=True)
def ridge_cholesky(A, ridge, L, B):
    """Cholesky factor of ``A + ridge I`` into ``L`` (``B`` is scratch)."""
    m = A.shape[0]
    for i in range(m):
        for j in range(m):
            B[i, j] = A[i, j]
        B[i, i] = A[i, i] + ridge
    return cholesky_into(B, L)


@njit(cache=True)
def damped_cholesky_solve(A, b, x):
    """Solve ``(A + lambda I) x = b`` with the smallest working ridge.

    ``lambda`` starts at ``1e-12`` times the mean diagonal (at least
    ``1e-300``) and grows tenfold, at most 400 times, until the Cholesky
    factorisation succeeds (it does once the ridge dominates).

    Parameters
    ----------
    A : ndarray of shape (m, m)
        Symmetric.
    b : ndarray of shape (m,)
    x : ndarray of shape (m,)
        Output.

    Returns
    -------
    ok : bool
        False if no ridge worked (not reached for finite ``A``).
    """
    optimize_for_size()
    m = A.shape[0]
    tr = 0.0
    for i in range(m):
        tr += A[i, i]
    lam = 1e-12 * max(tr / m, 1e-300)
    L = np.empty((m, m))
    B = np.empty((m, m))
    for _ in range(400):
        # ridge_cholesky's steps written out: a call chain fewer to compile
        for i in range(m):
            for j in range(m):
                B[i, j] = A[i, j]
            B[i, i] = A[i, i] + lam
        if pivoted_cholesky_into(B, L, 0.0):
            cholesky_solve_into(L, b, x)
            return True
        lam *= 10.0
    return False


@njit(cache=True)
def _jacobi_eigen(A, V, lam):
    """Eigen-decomposition ``A = V diag(lam) V^T`` by cyclic Jacobi rotations."""
    m = A.shape[0]
    a = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            a[i, j] = A[i, j]
            V[i, j] = 1.0 if i == j else 0.0
    for _ in range(100):
        off = 0.0
        total = 0.0
        for i in range(m):
            total += a[i, i] * a[i, i]
            for j in range(i + 1, m):
                off += a[i, j] * a[i, j]
        if off <= 1e-34 * (total + 2.0 * off) or off == 0.0:
            break
        for p in range(m - 1):
            for q in range(p + 1, m):
                apq = a[p, q]
                if apq == 0.0:
                    continue
                theta = (a[q, q] - a[p, p]) / (2.0 * apq)
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                if theta < 0.0:
                    t = -t
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(m):
                    akp = a[k, p]
                    akq = a[k, q]
                    a[k, p] = c * akp - s * akq
                    a[k, q] = s * akp + c * akq
                for k in range(m):
                    apk = a[p, k]
                    aqk = a[q, k]
                    a[p, k] = c * apk - s * aqk
                    a[q, k] = s * apk + c * aqk
                for k in range(m):
                    vkp = V[k, p]
                    vkq = V[k, q]
                    V[k, p] = c * vkp - s * vkq
                    V[k, q] = s * vkp + c * vkq
    for i in range(m):
        lam[i] = a[i, i]


@njit(cache=True)
def symmetric_lstsq(A, b, x):
    """Minimum-norm least-squares solution of the symmetric system ``A x = b``.

    The solution of ``np.linalg.lstsq(A, b, rcond=None)``: with the
    eigen-decomposition ``A = V diag(lam) V^T`` (the singular values of a
    symmetric matrix are ``|lam|``), eigenvalues of modulus at most ``eps *
    m`` times the largest are treated as zero.

    Parameters
    ----------
    A : ndarray of shape (m, m)
        Symmetric.
    b : ndarray of shape (m,)
    x : ndarray of shape (m,)
        Output.
    """
    m = A.shape[0]
    V = np.empty((m, m))
    lam = np.empty(m)
    _jacobi_eigen(A, V, lam)
    top = 0.0
    for i in range(m):
        top = max(top, abs(lam[i]))
    cut = _EPS * m * top
    for i in range(m):
        x[i] = 0.0
    for j in range(m):
        if not abs(lam[j]) > cut:
            continue
        c = 0.0
        for i in range(m):
            c += V[i, j] * b[i]
        c /= lam[j]
        for i in range(m):
            x[i] += c * V[i, j]


@njit(cache=True)
def spd_cholesky_solve(A, b, x):
    """:func:`spd_solve` where its Cholesky path applies, else nothing.

    For kernels that keep the eigen-solver out of their compiled code (it
    costs about a second of compilation in every kernel that links it): they
    report a failure to their Python caller, which takes a kernel with
    :func:`spd_solve`.

    Parameters
    ----------
    A, b
        As :func:`spd_solve`.
    x : ndarray of shape (m,)
        Output, written only when the result is True.

    Returns
    -------
    solved : bool
        Whether every pivot passed :func:`spd_solve`'s test (``x`` is then
        its solution, bit for bit).
    """
    optimize_for_size()
    m = A.shape[0]
    L = np.empty((m, m))
    if not pivoted_cholesky_into(A, L, _COLLINEAR):
        return False
    cholesky_solve_into(L, b, x)
    return True


@njit(cache=True)
def spd_solve(A, b, x):
    """Solve the symmetric positive semi-definite system ``A x = b``.

    By Cholesky when every pivot exceeds ``1e-4`` of its diagonal entry
    (no column nearly in the span of the previous ones,
    :func:`spd_cholesky_solve`); otherwise (a singular or nearly singular
    system) the minimum-norm solution of :func:`symmetric_lstsq`. Both give
    the solution of ``np.linalg.lstsq(A, b, rcond=None)`` to round-off on the
    systems each is used for.

    Parameters
    ----------
    A : ndarray of shape (m, m)
        Symmetric positive semi-definite.
    b : ndarray of shape (m,)
    x : ndarray of shape (m,)
        Output.
    """
    if not spd_cholesky_solve(A, b, x):
        symmetric_lstsq(A, b, x)
