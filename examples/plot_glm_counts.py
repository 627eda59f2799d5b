"""
=====================================================
Counts: a mixture of Poisson regression experts
=====================================================

Count data often mix regimes: patents per firm that grow with research
spending at different rates in different industries, seizures that respond
to a treatment in some patients and not in others. With ``noise="poisson"``
each expert is a Poisson regression (log link): its output
:math:`\\eta_k(x)` is the log of its mean count, and the gate chooses the
regime from ``x``. EM fits the experts by iteratively reweighted least
squares (the M-step of flexmix's ``FLXMRglm``), the log-likelihood includes
:math:`-\\log y!`, and the prediction intervals are counts.

The data here are generated; the flexmix ``patent`` data set will replace
them once it ships with :mod:`skmoe.datasets`.
"""

# %%
# Data: two Poisson regimes chosen by a softmax gate
# --------------------------------------------------
# Expert 1 (left of the gate's boundary): :math:`\log \mu = 0.3 + 0.8 x`;
# expert 2 (right): :math:`\log \mu = 2.2 - 0.6 x`.

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.datasets import sample_moe_regression
from skmoe.metrics import parameter_error

truth = MoEParams(gate_coef=[[-4.0], [0.0]], gate_intercept=[2.0, 0.0],
                  expert_params=[[0.8, 0.3], [-0.6, 2.2]], noise="poisson")
X, counts = sample_moe_regression(truth, 800, x_distribution="uniform",
                                  random_state=0)

# %%
# One Poisson regression and a mixture of two
# -------------------------------------------
# ``n_experts=1`` is the Poisson GLM (the same fit as scikit-learn's
# ``PoissonRegressor(alpha=0)``); BIC counts the gate and the experts only
# (the Poisson law has no variance).

fits = {
    K: MixtureOfExpertsRegressor(n_experts=K, noise="poisson", n_init=3,
                                 random_state=0).fit(X, counts)
    for K in (1, 2)
}
for K, est in fits.items():
    print(f"K={K}: log-likelihood {est.log_likelihood_:.1f}, "
          f"BIC {est.bic(X, counts):.1f}")
err = parameter_error(fits[2].params_, truth)
print("K=2 expert errors (slope, intercept):",
      err["expert_coef"].round(3), err["expert_intercept"].round(3))
se = fits[2].standard_errors(X, counts)
print("K=2 expert parameters:\n", fits[2].params_.expert_params.round(3))
print("their standard errors:\n", se.expert_params.round(3))

# %%
# Fitted means and 90% prediction intervals
# -----------------------------------------
# ``predict`` is the mixture mean :math:`\sum_k g_k(x) e^{\eta_k(x)}`,
# ``predict_experts`` the experts' means and ``predict_interval`` the 5% and
# 95% quantiles of the mixture, which are counts.

grid = np.linspace(X.min(), X.max(), 300)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (K, est) in zip(axes, fits.items(), strict=True):
    ax.scatter(X[:, 0], counts, s=6, alpha=0.4, color="grey")
    lo, hi = est.predict_interval(grid, 0.9).T
    ax.fill_between(grid[:, 0], lo, hi, step="mid", alpha=0.2,
                    label="90% interval")
    ax.plot(grid[:, 0], est.predict(grid), lw=2, label="mixture mean")
    if K > 1:
        ax.plot(grid[:, 0], est.predict_experts(grid), "--", lw=1,
                label="experts' means")
    ax.plot(grid[:, 0], truth.predict(grid), "k:", lw=1, label="true mean")
    ax.set_title(f"n_experts={K}")
    ax.set_xlabel("x")
    ax.legend(loc="upper left", fontsize=8)
axes[0].set_ylabel("count")
fig.tight_layout()
plt.show()
