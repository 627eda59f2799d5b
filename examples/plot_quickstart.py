"""
==========================================
Quickstart: fit a mixture of experts
==========================================

Draw data from a known softmax-gated mixture of three linear experts, fit a
:class:`~skmoe.MixtureOfExpertsRegressor`, and look at what it estimates: the
mixture mean :math:`E[y \\mid x]`, a 90% prediction interval of
:math:`p(y \\mid x)` and the gate weights :math:`g_k(x)`. Finally, compare the
estimated parameters with the truth after matching the experts.
"""

# %%
# Data from a known model
# -----------------------
# :func:`~skmoe.datasets.make_moe_regression` returns the data and the true
# model, as an :class:`~skmoe.MoEParams`.

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression
from skmoe.metrics import match_experts, parameter_error

X, y, truth = make_moe_regression(
    n_samples=2000, n_features=1, n_experts=3, random_state=0
)
print(truth)

# %%
# Fit
# ---
# EM is restarted from ``n_init=3`` random starting points and the restart
# with the highest log-likelihood is kept.

est = MixtureOfExpertsRegressor(n_experts=3, n_init=3, random_state=0)
est.fit(X, y)
print(f"converged: {est.converged_} after {est.n_iter_} EM iterations")
print(f"R^2 of the mixture mean: {est.score(X, y):.3f}")

# %%
# Mixture mean, prediction interval and gates
# -------------------------------------------
# ``predict`` is the mixture mean; ``predict_interval`` gives the central 90%
# interval of the fitted conditional distribution, which is multimodal where
# experts overlap; ``predict_gates`` gives the weight of every expert.

grid = np.linspace(X.min(), X.max(), 400).reshape(-1, 1)
mean = est.predict(grid)
interval = est.predict_interval(grid, coverage=0.9)
gates = est.predict_gates(grid)
true_gates = truth.gates(grid)

# label the fitted experts by the true expert they match
est_index, true_index = match_experts(est.params_, truth)

fig, (ax_data, ax_gate) = plt.subplots(
    2, 1, figsize=(7, 7), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
)
ax_data.scatter(X[:, 0], y, s=4, alpha=0.3, color="0.4", label="data")
ax_data.fill_between(
    grid[:, 0], interval[:, 0], interval[:, 1], alpha=0.25, label="90% interval"
)
ax_data.plot(grid[:, 0], mean, color="C3", lw=2, label="fitted mean E[y|x]")
ax_data.plot(
    grid[:, 0], truth.predict(grid), color="k", lw=1, ls="--", label="true mean"
)
ax_data.set_ylabel("y")
ax_data.legend(loc="best", fontsize="small")
ax_data.set_title("Data, fitted mixture mean and 90% prediction interval")

for e, t in zip(est_index, true_index, strict=True):
    color = f"C{t}"
    ax_gate.plot(grid[:, 0], gates[:, e], color=color, lw=2,
                 label=f"fitted gate (true expert {t})")
    ax_gate.plot(grid[:, 0], true_gates[:, t], color=color, lw=1, ls="--")
ax_gate.set_xlabel("x")
ax_gate.set_ylabel("gate weight")
ax_gate.set_ylim(-0.05, 1.05)
ax_gate.set_title("Gates: fitted (solid) and true (dashed)")
ax_gate.legend(loc="best", fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Parameter error against the truth
# ---------------------------------
# Experts come out in an arbitrary order (label switching), so
# :func:`~skmoe.metrics.parameter_error` first matches them to the true
# experts, then reports one error per true expert and parameter block.

errors = parameter_error(est.params_, truth)
print(f"{'block':<18}" + "".join(f"true expert {t:<4}" for t in errors["true_index"]))
for block, values in errors.items():
    if block.endswith("index"):
        continue
    print(f"{block:<18}" + "".join(f"{v:<16.4f}" for v in values))

print(f"\nlog-likelihood of the estimate: {est.log_likelihood_:.2f}")
print(f"log-likelihood of the truth:    {truth.log_density(X, y).sum():.2f}")
