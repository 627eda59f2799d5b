"""
=====================================================
Heavy tails: the Student-t mixture of experts
=====================================================

Gross outliers in ``y`` pull the experts of a Gaussian mixture of experts
away from the data: a Gaussian expert pays a quadratic price for a far
point, so one expert bends towards the outliers (or a whole expert is spent
on them). With ``noise="student_t"`` each expert has Student-t noise; EM then
weights every sample by :math:`u_{ik} = (\\nu_k + 1) / (\\nu_k + r_{ik}^2 /
\\sigma_k^2)`, which is small for a point far from expert ``k``, and the
experts stay on the bulk of the data (Chamroukhi 2016, arXiv:1701.07429).
"""

# %%
# Data: two linear experts and 5% gross outliers
# ----------------------------------------------
# The truth is a softmax-gated mixture of two linear experts with Gaussian
# noise (sd 0.3); :func:`skmoe.datasets.add_outliers` then shifts 5% of the
# targets by a random sign times 10 to 20 standard deviations of ``y``.

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import add_outliers, make_moe_regression
from skmoe.metrics import parameter_error

X, y, truth = make_moe_regression(n_samples=500, n_features=1, n_experts=2,
                                  random_state=0)
y_out, is_outlier = add_outliers(y, 0.05, random_state=0)

# %%
# Gaussian and Student-t fits of the same data
# --------------------------------------------

fits = {
    noise: MixtureOfExpertsRegressor(
        n_experts=2, noise=noise, n_init=2, max_iter=500, random_state=0
    ).fit(X, y_out)
    for noise in ("gaussian", "student_t")
}
for noise, est in fits.items():
    err = parameter_error(est.params_, truth)
    worst = np.sqrt(err["expert_coef"] ** 2 + err["expert_intercept"] ** 2).max()
    print(f"{noise:9s}: largest expert parameter error {worst:.3f}")
print("estimated degrees of freedom:", fits["student_t"].params_.noise_df.round(1))

# %%
# The fitted experts
# ------------------
# Outliers are drawn in grey; the y axis is cut at the clean data's range.

grid = np.linspace(X.min(), X.max(), 200)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (noise, est) in zip(axes, fits.items(), strict=True):
    ax.scatter(X[~is_outlier, 0], y_out[~is_outlier], s=6, alpha=0.5)
    ax.scatter(X[is_outlier, 0], y_out[is_outlier], s=6, color="grey")
    ax.plot(grid[:, 0], truth.expert_means(grid), "k--", lw=1)
    ax.plot(grid[:, 0], est.predict_experts(grid), lw=2)
    ax.set_ylim(y.min() - 1, y.max() + 1)
    ax.set_title(f'noise="{noise}" (dashed: true experts)')
    ax.set_xlabel("x")
axes[0].set_ylabel("y")
fig.tight_layout()
plt.show()
