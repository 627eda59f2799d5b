"""
=====================================================
Two responses sharing one gate
=====================================================

When several responses are measured on the same units -- two blood markers
of a patient, the yield and the quality of a batch -- a single latent regime
often drives them all. With a 2-D ``y`` of shape (n_samples, n_targets),
:class:`~skmoe.MixtureOfExpertsRegressor` fits one gate shared by the
responses; expert ``k`` maps ``x`` linearly to all of them and has a full
``n_targets x n_targets`` noise covariance
(:class:`~skmoe.noise.MultivariateGaussianNoise`). The responsibilities use
the joint density, so each response helps to tell the regimes apart, and
the covariances capture responses that are correlated within a regime.
"""

# %%
# Data: two regimes, two correlated responses
# -------------------------------------------
# Regime 1 (left of the gate's boundary at :math:`x = 0.5`): both responses
# rise with ``x``, with noise correlation +0.8. Regime 2 (right): the first
# response falls and the second is flat, with correlation -0.6.

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor, MoEParams
from skmoe.datasets import sample_moe_regression
from skmoe.metrics import parameter_error
from skmoe.noise import MultivariateGaussianNoise


def covariance(sd, corr):
    return np.array([[sd[0] ** 2, corr * sd[0] * sd[1]],
                     [corr * sd[0] * sd[1], sd[1] ** 2]])


truth = MoEParams(
    gate_coef=[[-8.0], [0.0]], gate_intercept=[4.0, 0.0],
    # expert_params[k, j] = (slope, intercept) of response j under expert k
    expert_params=[[[2.0, 0.0], [1.0, 1.0]], [[-2.0, 3.0], [0.0, 0.5]]],
    variance=[covariance([0.3, 0.2], 0.8), covariance([0.2, 0.3], -0.6)],
    noise="multivariate_gaussian",
)
X, Y = sample_moe_regression(truth, 1000, x_distribution="uniform",
                             random_state=0)
print("y has shape", Y.shape)

# %%
# Full and diagonal covariances
# -----------------------------
# ``noise="gaussian"`` with a 2-D ``y`` takes full covariances;
# ``MultivariateGaussianNoise(covariance_type="diag")`` makes the responses
# uncorrelated given the expert (still one shared gate). BIC counts the
# covariance entries: 3 per expert for full covariances, 2 for diagonal ones.

full = MixtureOfExpertsRegressor(n_experts=2, n_init=3, random_state=0).fit(X, Y)
diag = MixtureOfExpertsRegressor(
    n_experts=2, n_init=3, random_state=0,
    noise=MultivariateGaussianNoise(covariance_type="diag")).fit(X, Y)
for name, est in (("full", full), ("diag", diag)):
    print(f"{name}: log-likelihood {est.log_likelihood_:.1f}, "
          f"BIC {est.bic(X, Y):.1f}, R^2 {est.score(X, Y):.3f}")

err = parameter_error(full.params_, truth)
print("largest error of the slopes:", err["expert_coef"].max().round(3))
print("of the covariance entries:", err["variance"].max().round(4))
cov = full.params_.variance[err["est_index"]]
corr = cov[:, 0, 1] / np.sqrt(cov[:, 0, 0] * cov[:, 1, 1])
print("fitted noise correlations:", corr.round(2), "(true: 0.8, -0.6)")

# %%
# Predictions of both responses
# -----------------------------
# ``predict`` returns one column per response: the mixture mean
# :math:`\sum_k g_k(x) B_k \phi(x)`. The shaded bands are the 90% marginal
# prediction intervals of each response (``predict_interval`` has shape
# (n_samples, n_targets, 2)).

grid = np.linspace(0, 1, 200)[:, None]
mean = full.predict(grid)
band = full.predict_interval(grid, coverage=0.9)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
for j, ax in enumerate(axes):
    ax.scatter(X[:, 0], Y[:, j], s=4, alpha=0.3, color="grey")
    ax.plot(grid[:, 0], mean[:, j], color="C0", label="mixture mean")
    ax.fill_between(grid[:, 0], band[:, j, 0], band[:, j, 1], color="C0",
                    alpha=0.2, label="90% interval")
    ax.set_xlabel("x")
    ax.set_ylabel(f"response {j + 1}")
axes[0].legend()
fig.tight_layout()

# %%
# Residuals of each regime and their correlation
# ----------------------------------------------
# Rows assigned to each expert (largest gate), residuals against that
# expert's mean: the tilt of each cloud is the fitted noise correlation.

gates = full.predict_gates(X)
means = full.predict_experts(X)  # (n_samples, n_experts, n_targets)
fig, ax = plt.subplots(figsize=(5, 5))
for k in range(2):
    rows = gates.argmax(axis=1) == k
    resid = Y[rows] - means[rows, k]
    ax.scatter(resid[:, 0], resid[:, 1], s=5, alpha=0.4,
               label=f"expert {k + 1}")
ax.set_xlabel("residual of response 1")
ax.set_ylabel("residual of response 2")
ax.legend()
plt.show()
