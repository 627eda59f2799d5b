"""
=====================================================================
DeepSeekMoE experiment (a): softmax gate, ReLU experts, shared expert
=====================================================================

Experiment (a) of Nguyen et al., *On DeepSeekMoE: statistical benefits of
shared experts and normalized sigmoid gating* (arXiv:2505.10860, Appendix
G.1): data from one shared expert :math:`-8\\,\\mathrm{ReLU}(6x)` and two
softmax-routed experts :math:`4\\,\\mathrm{ReLU}(\\mp 12x)`
(:func:`~skmoe.convergence.deepseek_truth`), ``X ~ U[-3, 3]``; a model with
two shared and three routed ReLU experts (the paper's
:math:`\\eta_2\\,\\mathrm{ReLU}(\\eta_1 x)`: no hidden bias, no output offset)
is fitted by EM from a start near the truth, and the Voronoi loss ``"D1"``
(strongly identifiable experts, parameters as the paper writes them) is
recorded against the sample size. The paper reports a mean loss of order
:math:`(\\log n / n)^{0.451}`; the theory bounds it by exponent 1/2.

Both printed routed gate rows have slope 5, so the true softmax gate does not
depend on ``x``; ``--x-dependent-gate`` keeps routed expert 1's row
:math:`(5, -0.5)` and gives routed expert 2 the row :math:`(0, 0)` of the
identifiability convention A.2, a gate that does.

This script runs a short grid (seconds) for the gallery. ``--full`` runs the
paper's range (``n`` from ``1e2`` to ``1e5``, 13 sizes, 40 replications;
``tol=1e-6``, ``max_iter=1000``) and ``--out DIR`` writes the table (CSV)
and the figure (PNG). The measured exponents, on the paper's grid and on a
reduced one, are on the documentation page "Reproducing the papers"; ``skmoe
reproduce`` runs every study of that page in one command.
"""

# %%
# The study
# ---------
# Every fit starts with the authors' near-true recipe
# (``init="near_true_authors"``, the start of their public code for the
# softmax-gating paper); ``--init near_true`` uses skmoe's own.
import argparse

import matplotlib.pyplot as plt

from skmoe.convergence import (
    DEEPSEEK_FULL_GRID,
    SHORT_GRID,
    deepseek_report,
    deepseek_study,
)

parser = argparse.ArgumentParser(description="DeepSeekMoE experiment (a)")
parser.add_argument("--full", action="store_true", help="the paper's grid")
parser.add_argument("--x-dependent-gate", action="store_true")
parser.add_argument("--init", default="near_true_authors")
parser.add_argument("--out", metavar="DIR", help="write CSV and PNG here")
args, _ = parser.parse_known_args()

grid, reps = DEEPSEEK_FULL_GRID if args.full else SHORT_GRID
study = deepseek_study("a", grid, reps, x_dependent_gate=args.x_dependent_gate,
                       init=args.init, n_jobs=-1 if args.full else 1,
                       random_state=0, verbose=5 if args.full else 0)
print(deepseek_report(study, "a", n_boot=200))

# %%
# Mean loss (± std) against ``n``, with the fitted ``(log n / n)^slope``
study.plot(scale="log_n_over_n")
if args.out:
    study.save(args.out, "a_x" if args.x_dependent_gate else "a",
               scale="log_n_over_n")
plt.show()
