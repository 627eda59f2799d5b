"""
==============================================
Choosing the gating family by cross-validation
==============================================

The gate of a mixture of experts is a hyper-parameter like any other:
:class:`~skmoe.SoftmaxGating` (dense, tempered, top-K sparse),
:class:`~skmoe.NormalizedSigmoidGating` (DeepSeek-V3) and
:class:`~skmoe.HierarchicalSoftmaxGating` are objects that a
:class:`~sklearn.model_selection.GridSearchCV` searches over, inside a
:class:`~sklearn.pipeline.Pipeline` with a scaler, with nested keys such as
``gating__temperature`` for their own hyper-parameters.

The data below come from a two-level *hierarchical* softmax gate: four
linear experts in two groups of two. The search compares four gating objects
(and two temperatures of the plain softmax, through a nested key) by the
held-out log-density, and plots the gating regions of the winner next to the
true ones.
"""

# %%
# Data from a hierarchical gate
# -----------------------------

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import (
    HierarchicalSoftmaxGating,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    SoftmaxGating,
)
from skmoe.datasets import make_moe_regression

X, y, truth = make_moe_regression(
    n_samples=450, n_features=2, n_experts=4,
    gating=HierarchicalSoftmaxGating(n_groups=2), random_state=0,
)
X = X * [3.0, 0.5] + [10.0, -4.0]  # unequal scales: the pipeline standardises

# %%
# The search
# ----------
# Four gating objects, and for the dense softmax a nested temperature key. The
# score is the mean held-out log-density :math:`\log p(y \mid x)`, which
# compares whole conditional distributions (the :math:`R^2` of the mean would
# hardly separate them).


def heldout_log_density(pipeline, X, y):
    """Mean conditional log-density of ``(X, y)`` under a fitted pipeline."""
    return pipeline[-1].log_density(pipeline[:-1].transform(X), y).mean()


pipe = Pipeline([
    ("scale", StandardScaler()),
    ("moe", MixtureOfExpertsRegressor(n_experts=4, n_init=2, random_state=0)),
])
grid = [
    {"moe__gating": [SoftmaxGating(top_k=1), NormalizedSigmoidGating(top_k=2),
                     HierarchicalSoftmaxGating(n_groups=2)]},
    {"moe__gating": [SoftmaxGating()], "moe__gating__temperature": [0.5, 2.0]},
]
search = GridSearchCV(pipe, grid, cv=3, scoring=heldout_log_density, n_jobs=2)
search.fit(X, y)

results = search.cv_results_
for i in np.argsort(results["rank_test_score"]):
    params = results["params"][i]
    print(f"{results['rank_test_score'][i]}  "
          f"{results['mean_test_score'][i]:8.3f} +- "
          f"{results['std_test_score'][i]:.3f}  {params['moe__gating']!r}"
          + (f", temperature={params['moe__gating__temperature']}"
             if "moe__gating__temperature" in params else ""))
print("winner:", search.best_estimator_["moe"].gating_)

# %%
# On 450 points the plain softmax and the true two-level gate score within
# about one standard deviation of each other: a flat softmax of linear logits
# over four experts approximates this two-level gate well, with fewer
# parameters to estimate. The temperature of a plain softmax only rescales its
# fitted slopes (the gate depends on :math:`\beta / \tau`), so the two
# temperatures differ only through the starting point of EM. The top-1 gate
# routes every held-out input to exactly one expert, so an input sent to the
# wrong expert costs a large negative log-density: hard gates are risky under
# this score unless the regions really are hard.
#
# Gating regions of the winner
# ----------------------------
# Each input is coloured by the expert with the largest gate weight, darker
# where that weight is close to one (a two-level gate can carve regions that
# a single softmax of linear logits cannot). Experts are matched to the true ones
# (:func:`~skmoe.metrics.match_experts`) so that the colours correspond.

from skmoe.metrics import match_experts  # noqa: E402

best = search.best_estimator_
scaler, moe = best["scale"], best["moe"]
est_index, true_index = match_experts(moe.params_, truth)

u = np.linspace(X[:, 0].min(), X[:, 0].max(), 200)
v = np.linspace(X[:, 1].min(), X[:, 1].max(), 200)
U, V = np.meshgrid(u, v)
grid_X = np.column_stack([U.ravel(), V.ravel()])
# the truth was drawn on unscaled inputs: undo the rescaling above
true_gates = truth.gates((grid_X - [10.0, -4.0]) / [3.0, 0.5])[:, true_index]
fitted_gates = moe.predict_gates(scaler.transform(grid_X))[:, est_index]

cmap = plt.get_cmap("tab10")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
for ax, gates, title in ((axes[0], true_gates, "true hierarchical gate"),
                         (axes[1], fitted_gates, f"winner: {moe.gating_!r}")):
    label = gates.argmax(axis=1)
    rgb = np.array([cmap(k)[:3] for k in label])
    shade = gates.max(axis=1)[:, None]
    image = 1.0 - shade * (1.0 - rgb) * 0.8
    ax.imshow(image.reshape(200, 200, 3), origin="lower", aspect="auto",
              extent=(u[0], u[-1], v[0], v[-1]))
    ax.scatter(X[:, 0], X[:, 1], s=3, c="k", alpha=0.3)
    ax.set_title(title)
    ax.set_xlabel("x1")
axes[0].set_ylabel("x2")
fig.tight_layout()
plt.show()
