"""
===========================================
Feed-forward experts against linear experts
===========================================

The convergence-rate papers contrast two kinds of experts: two-layer
feed-forward experts :math:`h(x) = a \\tanh(b x + c) + e`, which are *strongly
identifiable*, and linear experts, which are not. This example draws data from
a mixture of two tanh experts, fits it with FFN experts and with linear
experts, and compares the fitted regression functions, the experts, and the
likelihood and BIC of the fits. It also fits the same FFN model by least
squares (``objective="least_squares"``), the estimator the papers analyse,
and ends with the papers' contrast in rates: over-specified least squares
learns FFN experts at a polynomial rate and linear experts more slowly.
"""

# %%
# Data from a mixture of two tanh experts
# ---------------------------------------
# One input feature, so that everything can be plotted. The truth is returned
# as an :class:`~skmoe.MoEParams`.

import matplotlib.pyplot as plt
import numpy as np

from skmoe import FFNExperts, MixtureOfExpertsRegressor
from skmoe.convergence import SHORT_GRID, least_squares_study
from skmoe.datasets import make_moe_regression
from skmoe.metrics import parameter_error

X, y, truth = make_moe_regression(
    n_samples=3000, n_features=1, n_experts=2, experts="ffn", activation="tanh",
    x_distribution="uniform", random_state=4,
)
print("true expert rows [a, b, c, e]:")
print(truth.expert_params.round(2))

# %%
# Fit FFN experts and linear experts
# ----------------------------------
# FFN experts have many local maxima when started from a random soft partition
# of the inputs (a steep unit can imitate the gate), so we start from k-means
# clusters of ``(x, y)`` and keep the best of three restarts. Linear experts get
# the same budget, with two experts and with four.

common = dict(init_params="kmeans", n_init=3, random_state=0)
fits = {
    "FFN, K=2": MixtureOfExpertsRegressor(2, experts=FFNExperts("tanh"), **common),
    "linear, K=2": MixtureOfExpertsRegressor(2, experts="linear", **common),
    "linear, K=4": MixtureOfExpertsRegressor(4, experts="linear", **common),
}
for est in fits.values():
    est.fit(X, y)

print(f"{'model':>12}  {'log-lik':>9}  {'BIC':>9}  {'R^2':>6}")
print(f"{'truth':>12}  {truth.log_density(X, y).sum():9.1f}")
for name, est in fits.items():
    print(f"{name:>12}  {est.log_likelihood_:9.1f}  {est.bic(X, y):9.1f}  "
          f"{est.score(X, y):6.3f}")

# %%
# The FFN fit recovers the true experts. The comparison goes through
# :func:`~skmoe.metrics.parameter_error`, which matches the experts and
# compares them in canonical form (``tanh`` is odd, so ``(a, b, c, e)`` and
# ``(-a, -b, -c, e)`` are the same expert).

errors = parameter_error(fits["FFN, K=2"].params_, truth)
for block in ("expert_output_weight", "expert_coef", "expert_bias",
              "expert_intercept", "variance"):
    print(f"{block:>22}: {errors[block].round(3)}")

# %%
# Least squares
# -------------
# The same FFN model fitted by minimising the squared error of the regression
# function, with L-BFGS from the maximum-likelihood fit. It estimates the
# regression function only: ``log_density`` and ``bic`` are not defined for
# it, and ``history_`` holds the squared error, which only decreases.

ls = MixtureOfExpertsRegressor(
    2, experts=FFNExperts("tanh"), solver="lbfgs", objective="least_squares",
    init_params=fits["FFN, K=2"].params_,
).fit(X, y)
print(f"least squares: R^2 {ls.score(X, y):.3f} after {ls.n_iter_} L-BFGS "
      f"iterations, squared error {ls.history_[0]:.1f} -> {ls.history_[-1]:.1f}")

# %%
# Plot the fits
# -------------
# Left: the data and the regression functions :math:`E[y \\mid x]`. Right: the
# experts of each fit, drawn where their gate weight exceeds 1/2. The linear
# fit with two experts cannot follow the curvature; four linear experts
# approximate it piece by piece, at the cost of more parameters.

grid = np.linspace(X.min(), X.max(), 400)[:, None]
fig, (ax_f, ax_e) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
ax_f.scatter(X[:, 0], y, s=2, color="0.75", label="data")
ax_f.plot(grid[:, 0], truth.predict(grid), "k--", lw=2, label="truth")
styles = {"FFN, K=2": "C0", "linear, K=2": "C1", "linear, K=4": "C2"}
for name, est in fits.items():
    ax_f.plot(grid[:, 0], est.predict(grid), color=styles[name], label=name)
    gates = est.predict_gates(grid)
    means = est.predict_experts(grid)
    for k in range(est.n_experts):
        active = np.where(gates[:, k] > 0.5, means[:, k], np.nan)
        ax_e.plot(grid[:, 0], active, color=styles[name], lw=2,
                  label=name if k == 0 else None)
ax_f.set_title("Regression function E[y | x]")
ax_f.set_xlabel("x")
ax_f.set_ylabel("y")
ax_f.legend(fontsize="small")
ax_e.scatter(X[:, 0], y, s=2, color="0.85")
ax_e.set_title("Experts where their gate > 1/2")
ax_e.set_xlabel("x")
ax_e.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Rates under least squares
# -------------------------
# The convergence-rate contrast of Nguyen, Ho and Rinaldo (arXiv:2503.03213):
# with softmax gating and least squares, over-fitted strongly identifiable
# (FFN) experts have polynomial parameter rates, so the Voronoi loss ``"D1"``
# falls like :math:`n^{-1/2}`; linear experts interact with the gate through a
# PDE and their rates are slower than any polynomial.
# :func:`~skmoe.convergence.least_squares_study` fits three experts to two true
# ones by least squares from a near-true start and records ``"D1"`` without
# its variance terms (least squares estimates none). The grid here is short;
# the documentation page "Reproducing the papers" has the long one
# (``skmoe reproduce --only ls_ffn ls_linear``).
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for experts, color in (("ffn", "C0"), ("linear", "C1")):
    study = least_squares_study(experts, *SHORT_GRID, n_jobs=1, random_state=0)
    ns, mean, _ = study.summary()
    rate = study.rate(n_boot=200, random_state=0)
    ax.loglog(ns, mean, "o-", color=color,
              label=f"{experts}: slope {rate['slope']:.2f} "
                    f"[{rate['ci_low']:.2f}, {rate['ci_high']:.2f}]")
ax.set_xlabel("n")
ax.set_ylabel("mean D1 (no variance terms)")
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()
