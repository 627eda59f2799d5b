"""
=====================================================================
DeepSeekMoE experiment (a): softmax gate, ReLU experts, shared expert
=====================================================================

Reproduces experiment (a) of Nguyen et al., *On DeepSeekMoE: statistical
benefits of shared experts and normalized sigmoid gating*
(arXiv:2505.10860): data from one shared expert :math:`-8\\,\\mathrm{ReLU}(6x)`
and two softmax-routed experts :math:`4\\,\\mathrm{ReLU}(\\mp 12x)`
(:func:`~skmoe.convergence.deepseek_truth`), ``X ~ U[-3, 3]``; a model with
two shared and three routed ReLU experts is fitted by EM from a start near
the truth, and the Voronoi loss ``"D1"`` (strongly identifiable experts)
is recorded against the sample size. The paper reports a mean loss of order
:math:`(\\log n / n)^{0.451}`; the theory predicts exponent 1/2.

Both true routed gate slopes are 5, so after the softmax's shift
normalisation the true gate does not depend on ``x`` (PAPERS.md section 5).
``--x-dependent-gate`` uses slopes ``(-5, 5)`` instead, a gate that does.

Measured on ``n`` = 100, 316, ..., 10000 with 12 replications
(``deepseek_study("a", ..., random_state=0)``): exponent 0.585 (95%
bootstrap interval [0.515, 0.655]) for ``"D1"``, 0.578 ([0.263, 0.796]) with
the gate that depends on ``x``.

The default grid is short so that the gallery builds in seconds; run
``python plot_deepseek_a_softmax_relu.py --full`` for the paper's grid
(``n`` from ``1e2`` to ``1e5``, 40 replications, ``tol=1e-6``,
``max_iter=1000``; hours on two cores).
"""

# %%
# The study
# ---------
import argparse

import matplotlib.pyplot as plt

from skmoe.convergence import DEEPSEEK_FULL_GRID, deepseek_report, deepseek_study

parser = argparse.ArgumentParser(
    description="DeepSeekMoE experiment (a), short or full grid")
parser.add_argument("--full", action="store_true", help="the paper's grid")
parser.add_argument("--x-dependent-gate", action="store_true")
args, _ = parser.parse_known_args()

grid, reps = DEEPSEEK_FULL_GRID if args.full else ([100, 300, 1000], 3)
study = deepseek_study("a", grid, reps, x_dependent_gate=args.x_dependent_gate,
                       n_jobs=-1 if args.full else 1, random_state=0,
                       verbose=5 if args.full else 0)
print(deepseek_report(study, "a"))

# %%
# Mean loss (± std) against ``n``, with the fitted ``(log n / n)^slope``
study.plot(scale="log_n_over_n")
plt.show()
