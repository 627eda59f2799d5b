"""
===========================================================
Grid search over the number of experts and the gate
===========================================================

:class:`~skmoe.MixtureOfExpertsRegressor` is an ordinary scikit-learn
regressor: it goes into a :class:`~sklearn.pipeline.Pipeline` and a
:class:`~sklearn.model_selection.GridSearchCV`. Hyper-parameters of the gate
are searched with nested keys such as
``mixtureofexpertsregressor__gating__temperature``. Nested keys need a gating
**object** (``gating=SoftmaxGating()``), not a string (``gating="softmax"``
has no ``temperature`` to set).
"""

# %%
# Data and pipeline
# -----------------

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsRegressor, SoftmaxGating
from skmoe.datasets import make_moe_regression

X, y, truth = make_moe_regression(
    n_samples=600, n_features=2, n_experts=3, random_state=0
)

pipe = make_pipeline(
    StandardScaler(),
    MixtureOfExpertsRegressor(gating=SoftmaxGating(), n_init=2, random_state=0),
)
param_grid = {
    "mixtureofexpertsregressor__n_experts": [1, 2, 3, 4],
    "mixtureofexpertsregressor__gating__temperature": [0.5, 1.0, 2.0],
}

# %%
# Two scores
# ----------
# The default score of a regressor is the :math:`R^2` of the mixture mean
# :math:`E[y \mid x]`. A mixture of experts models the whole conditional
# distribution, so the held-out mean log-density :math:`\log p(y \mid x)` is a
# more telling criterion; a scorer computes it through the last step of the
# pipeline. The search refits the best model by log-density.


def heldout_log_density(pipeline, X, y):
    """Mean conditional log-density of ``(X, y)`` under a fitted pipeline."""
    Xt = pipeline[:-1].transform(X)
    return pipeline[-1].log_density(Xt, y).mean()


search = GridSearchCV(
    pipe,
    param_grid,
    cv=3,
    scoring={"r2": "r2", "log_density": heldout_log_density},
    refit="log_density",
)
search.fit(X, y)
print("best parameters:", search.best_params_)

# %%
# The cross-validation results
# ----------------------------

results = search.cv_results_
n_experts = results["param_mixtureofexpertsregressor__n_experts"]
temperature = results["param_mixtureofexpertsregressor__gating__temperature"]
print(f"{'n_experts':>9}  {'temperature':>11}  {'R^2':>7}  "
      f"{'log-density':>11}  {'(std)':>7}  {'rank':>4}")
for i in np.argsort(results["rank_test_log_density"]):
    print(f"{n_experts[i]:>9}  {temperature[i]:>11}  "
          f"{results['mean_test_r2'][i]:>7.3f}  "
          f"{results['mean_test_log_density'][i]:>11.3f}  "
          f"{results['std_test_log_density'][i]:>7.3f}  "
          f"{results['rank_test_log_density'][i]:>4}")

# %%
# Plot the scores against the number of experts, one line per temperature.
# The held-out log-density separates the models much more clearly than the
# :math:`R^2` of the mean: it peaks at the true number of experts, 3, and a
# fourth expert does not help.

fig, (ax_r2, ax_ll) = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
for j, tau in enumerate(param_grid["mixtureofexpertsregressor__gating__temperature"]):
    rows = np.flatnonzero(temperature == tau)
    rows = rows[np.argsort(n_experts[rows].astype(int))]
    k = n_experts[rows].astype(int) + (j - 1) * 0.05  # small offset for legibility
    ax_r2.errorbar(k, results["mean_test_r2"][rows],
                   yerr=results["std_test_r2"][rows], marker="o", capsize=3,
                   label=f"temperature={tau}")
    ax_ll.errorbar(k, results["mean_test_log_density"][rows],
                   yerr=results["std_test_log_density"][rows], marker="o",
                   capsize=3, label=f"temperature={tau}")
ax_r2.set_ylabel("R^2 of the mixture mean (3-fold CV)")
ax_ll.set_ylabel("mean held-out log p(y | x) (3-fold CV)")
for ax in (ax_r2, ax_ll):
    ax.set_xlabel("n_experts")
    ax.set_xticks(param_grid["mixtureofexpertsregressor__n_experts"])
    ax.axvline(truth.n_experts, color="0.6", ls=":", lw=1)
ax_ll.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %%
# Why the temperature barely matters here
# ---------------------------------------
# The temperature :math:`\tau` of :class:`~skmoe.SoftmaxGating` is held fixed
# while the gate slopes and intercepts are fitted, and the gate depends on them
# only through :math:`\beta / \tau`. A different temperature is therefore
# absorbed by the fitted gate parameters, which scale with :math:`\tau`, and
# the fitted model (hence the score) is the same up to the EM starting point.
# The grid above mostly demonstrates the nested-key mechanics; the number of
# experts is what the data decide.

slopes = {}
for tau in (0.5, 1.0, 2.0):
    pipe_tau = clone(search.best_estimator_).set_params(
        mixtureofexpertsregressor__gating__temperature=tau
    )
    slopes[tau] = pipe_tau.fit(X, y)[-1].params_.gate_coef
    print(f"temperature={tau}: fitted gate slopes of the first expert "
          f"{np.round(slopes[tau][0], 3)}")
print("slopes at temperature 2 / slopes at temperature 0.5:",
      np.round(slopes[2.0][0] / slopes[0.5][0], 3))
