"""
=================================================
Router saturation and change rate along EM
=================================================

How quickly does the router settle during a fit? With
``record_routing=True`` the estimator keeps, at the start and after every EM
iteration, the ``routing_k`` routed experts with the largest gate weights on
every training row (``routing_history_``, labelled like ``params_``). The
router diagnostics of Nguyen et al. (arXiv:2505.10860, section 6 of
PAPERS.md) read it directly:

- router saturation :func:`~skmoe.diagnostics.router_saturation`, the share
  of the final top-k sets already chosen at iteration ``t``;
- router change rate :func:`~skmoe.diagnostics.router_change_rate`, the share
  that changes from one iteration to the next;
- expert utilisation :func:`~skmoe.diagnostics.expert_utilization`, Jain's
  index of the inputs each expert receives (1: balanced).

The data come from DeepSeekMoE experiment (b) with the gate that depends on
``x`` (:func:`~skmoe.convergence.deepseek_truth`); the model has three routed
experts, a top-2 router is recorded, and the fit starts from a random
partition, so the router has something to learn.
"""

# %%
# Fit with the routing recorded
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np

from skmoe.convergence import deepseek_estimator, deepseek_truth
from skmoe.datasets import sample_moe_regression
from skmoe.diagnostics import (
    expert_utilization,
    router_change_rate,
    router_saturation,
)

truth = deepseek_truth("b", x_dependent_gate=True)
X, y = sample_moe_regression(truth, 2000, x_distribution="uniform",
                             random_state=0)
est = deepseek_estimator("b", max_iter=200).set_params(
    record_routing=True, routing_k=2, random_state=0)
est.fit(X, y)
history = est.routing_history_
print(f"{est.n_iter_} EM iterations; routing_history_ {history.shape}, "
      f"{history.dtype}, {history.nbytes / 1e3:.0f} kB")

# %%
# Diagnostics along the iterations
# --------------------------------
saturation = router_saturation(history)
change = router_change_rate(history)
jain = [expert_utilization(h, n_experts=3)[1] for h in history]
print(f"saturation at the start {saturation[0]:.2f}, after 10 iterations "
      f"{saturation[min(10, len(saturation) - 1)]:.2f}")
print("final shares of the inputs:",
      np.round(expert_utilization(history[-1], n_experts=3)[0], 3))

fig, axes = plt.subplots(1, 3, figsize=(10, 3))
axes[0].plot(saturation)
axes[0].set(title="router saturation", xlabel="EM iteration", ylim=(0, 1.05))
axes[1].plot(np.arange(1, len(history)), change)
axes[1].set(title="router change rate", xlabel="EM iteration", yscale="symlog",
            ylim=(0, None))
axes[2].plot(jain)
axes[2].set(title="Jain's index (top-2 inputs)", xlabel="EM iteration",
            ylim=(1 / 3, 1.02))
fig.tight_layout()
plt.show()
