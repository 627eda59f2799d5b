"""Voronoi losses, regression and density distances (PAPERS.md section 4)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logit, ndtr

from skmoe import FFNExperts, MoEParams, NormalizedSigmoidGating
from skmoe.datasets import make_moe_regression
from skmoe.metrics import (
    density_distance,
    regression_distance,
    voronoi_cells,
    voronoi_loss,
)

SIG = "normalized_sigmoid"


def _truth_sigmoid(**shared):
    # true atoms A (slope 1, expert x, nu 0.1) and B (slope 0, expert -x,
    # nu 0.1), both with beta_0 = 0, i.e. weight sigmoid(0) = 0.5
    return MoEParams([[1.0], [0.0]], [0.0, 0.0], [[1.0, 0.0], [-1.0, 0.0]],
                     [0.1, 0.1], gating=SIG, **shared)


def _estimate_sigmoid(**shared):
    # i0: copy of B with expert intercept 0.1 -> exact cell of B
    # i1: A with slope 1.1; i2: A with slope 0.9, intercept 0.2, nu 0.2
    return MoEParams([[0.0], [1.1], [0.9]], [0.0, 0.0, 0.0],
                     [[-1.0, 0.1], [1.0, 0.0], [1.0, 0.2]], [0.1, 0.1, 0.2],
                     gating=SIG, **shared)


def test_cells_hand_computed():
    cells, shared = voronoi_cells(_estimate_sigmoid(), _truth_sigmoid())
    assert [c.tolist() for c in cells] == [[1, 2], [0]]
    assert shared == []


@pytest.mark.parametrize("kind, expected", [
    # all weights sigmoid(0) = 0.5.
    # mass: cell A |0.5 + 0.5 - 0.5| = 0.5, cell B |0.5 - 0.5| = 0.
    # exact cell B (i0): 0.5 * (|dbeta1| 0 + |deta| 0.1 + |dnu| 0) = 0.05
    # D1 over-fitted cell A: i1 0.5 * 0.1^2 = 0.005;
    #    i2 0.5 * (0.1^2 + 0.2^2 + 0.1^2) = 0.03        -> 0.5 + 0.05 + 0.035
    ("D1", 0.585),
    # D2, r = rbar(2) = 4: i1 0.5 * 0.1^4 = 0.00005;
    #    i2 0.5 * (0.1^4 + 0^2 + 0.2^4 + 0.1^2) = 0.5 * 0.0117 = 0.00585
    #    -> 0.5 + 0.05 + 0.0059
    ("D2", 0.5559),
    # D3: mass of cell A only (0.5); exact cell unweighted 0.1 (+|dbeta0| 0);
    #    over-fitted unweighted p=2: 0.01 + (0.01 + 0.04 + 0.01) = 0.07
    ("D3", 0.67),
    ("auto", 0.67),  # normalized sigmoid without reference -> D3
])
def test_losses_hand_computed(kind, expected):
    loss = voronoi_loss(_estimate_sigmoid(), _truth_sigmoid(), kind=kind)
    # a handful of floating operations on O(1) numbers: round-off ~1e-15
    assert loss == pytest.approx(expected, abs=1e-12)


def test_d4_against_reference():
    est = _estimate_sigmoid()
    # reference = estimate with i1's intercept moved by 0.3 and slope by 0.2:
    # D4 = unweighted |dbeta1| + |dbeta0| = 0.2 + 0.3, other atoms at 0
    ref = est.replace(gate_coef=est.gate_coef + [[0.0], [0.2], [0.0]],
                      gate_intercept=est.gate_intercept + [0.0, 0.3, 0.0])
    assert voronoi_loss(est, _truth_sigmoid(), reference=ref) == pytest.approx(
        0.5, abs=1e-12)
    with pytest.raises(ValueError, match="reference"):
        voronoi_loss(est, _truth_sigmoid(), kind="D4")


def test_shared_atoms_hand_computed():
    true_shared = dict(shared_params=[[2.0, 0.0]], shared_variance=[0.2],
                       shared_weights=[1.0])
    est_shared = dict(shared_params=[[2.1, 0.1], [2.0, 0.0]],
                      shared_variance=[0.2, 0.3], shared_weights=[0.5, 0.5])
    truth = _truth_sigmoid(**true_shared)
    est = truth.replace(**{k: np.asarray(v, dtype=float)
                           for k, v in est_shared.items()})
    cells, shared = voronoi_cells(est, truth)
    assert [c.tolist() for c in shared] == [[0, 1]]
    # routed part equals the truth; shared mass |0.5 + 0.5 - 1| = 0.
    # D1: 0.5 * |(0.1, 0.1)|^2 + 0.5 * 0.1^2 = 0.01 + 0.005
    assert voronoi_loss(est, truth, kind="D1") == pytest.approx(0.015, abs=1e-12)
    # D2 (shared linear experts, r = 4): 0.5 * (0.1^2 + 0.1^4) + 0.5 * 0.1^2
    assert voronoi_loss(est, truth, kind="D2") == pytest.approx(0.01005, abs=1e-12)


def test_softmax_translation_and_split_atoms_are_free():
    _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    shifted = truth.replace(gate_coef=truth.gate_coef + [0.7, -0.4],
                            gate_intercept=truth.gate_intercept - 0.3)
    # a translate of the truth: the candidate translation moving any row back
    # onto its true row is exact up to round-off
    assert voronoi_loss(shifted, truth, kind="D1") < 1e-12
    assert voronoi_loss(shifted, truth, kind="D2") < 1e-12
    # split atom 0 into two halves at the same location: masses add up to
    # exp(beta_0), locations are exact -> the loss is 0 (up to round-off)
    split = MoEParams(
        np.vstack([truth.gate_coef[:1], truth.gate_coef]),
        np.concatenate([truth.gate_intercept[:1] - np.log(2),
                        [truth.gate_intercept[0] - np.log(2)],
                        truth.gate_intercept[1:]]),
        np.vstack([truth.expert_params[:1], truth.expert_params]),
        np.concatenate([truth.variance[:1], truth.variance]),
    )
    assert voronoi_loss(split, truth) < 1e-12


def test_softmax_intercepts_beyond_exp_range():
    # softmax intercepts are defined up to a shift; a fit may carry them far
    # beyond exp's range (exp(800) overflows). The loss is invariant to the
    # shift, so it must equal the unshifted loss without an overflow warning
    # (pyproject turns warnings into errors).
    _, _, truth = make_moe_regression(10, 2, 3, random_state=0)
    est = truth.replace(gate_coef=truth.gate_coef + [0.05, 0.0],
                        expert_params=truth.expert_params + 0.02)
    far = est.replace(gate_intercept=est.gate_intercept + 800.0)
    for kind in ("D1", "D2"):
        # the same candidate translations, shifted: equal to round-off of
        # the shift (800 * eps relative to values of order 1)
        assert voronoi_loss(far, truth, kind=kind) == pytest.approx(
            voronoi_loss(est, truth, kind=kind), rel=1e-10)


def test_softmax_loss_hand_computed_exact_cells():
    # one feature, two atoms; the estimate moves atom 0's expert slope by 0.1:
    # the best translation is 0 (any translation moves two exact atoms), so
    # D1 = exp(beta_00) * 0.1 = exp(0.5) * 0.1
    truth = MoEParams([[2.0], [0.0]], [0.5, 0.0], [[1.0, 0.0], [-1.0, 1.0]],
                      [0.1, 0.1])
    est = truth.copy()
    est.expert_params[0, 0] += 0.1
    loss = voronoi_loss(est, truth, kind="D1")
    # Nelder-Mead tolerances 1e-10 on t; the minimum is at a kink, t = 0 is a
    # candidate, so the value is the candidate's up to round-off
    assert loss == pytest.approx(np.exp(0.5) * 0.1, rel=1e-9)
    assert voronoi_loss(est, truth) == pytest.approx(np.exp(0.5) * 0.1, rel=1e-9)


def _perturbed(truth, rng, extra):
    # the last fitted atom copies the last true atom and keeps its row at
    # zero (the convention of both gates: softmax and pinned sigmoid)
    K = truth.n_experts
    idx = np.concatenate([np.arange(K - 1), rng.integers(0, K, extra), [K - 1]])
    coef = truth.gate_coef[idx] + 0.05 * rng.standard_normal((idx.size, 1))
    intercept = truth.gate_intercept[idx] - np.log(2) * (np.bincount(idx)[idx] > 1)
    coef[-1], intercept[-1] = 0.0, 0.0
    return MoEParams(
        coef, intercept,
        truth.expert_params[idx] + 0.05 * rng.standard_normal((idx.size, 2)),
        truth.variance[idx] * np.exp(0.1 * rng.standard_normal(idx.size)),
        gating=truth.gating,
    )


def _relabelling(rng, K):
    """A random relabelling that keeps the last (pinned) expert last."""
    return np.append(rng.permutation(K - 1), K - 1)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), extra=st.integers(0, 2),
       gating=st.sampled_from(["softmax", SIG]),
       kind=st.sampled_from(["D1", "D2", "auto"]))
def test_losses_are_zero_at_truth_and_permutation_invariant(seed, extra, gating,
                                                            kind):
    rng = np.random.default_rng(seed)
    _, _, truth = make_moe_regression(10, 1, 2, gating=gating, random_state=seed)
    assert voronoi_loss(truth, truth, kind=kind) == 0.0
    est = _perturbed(truth, rng, extra)
    # any relabelling for the softmax; the pinned sigmoid keeps its last
    # expert last (no other relabelling has a pinned form)
    order = (rng.permutation(est.n_experts) if gating == "softmax"
             else _relabelling(rng, est.n_experts))
    a = voronoi_loss(est, truth, kind=kind)
    b = voronoi_loss(est.permute(order), truth, kind=kind)
    # the candidate set and the Nelder-Mead start do not depend on the
    # labelling; only the order of summation does (round-off), and the
    # Nelder-Mead stopping tolerance fatol=1e-14 bounds what that changes
    assert a > 0
    assert b == pytest.approx(a, rel=1e-8, abs=1e-12)
    X = rng.standard_normal((20, 1))
    assert regression_distance(truth, truth, X) == 0.0
    assert density_distance(truth, truth, X, n_grid=201) == 0.0
    assert regression_distance(est.permute(order), truth, X) == pytest.approx(
        regression_distance(est, truth, X), rel=1e-12)
    assert density_distance(est.permute(order), truth, X, n_grid=201) == \
        pytest.approx(density_distance(est, truth, X, n_grid=201), rel=1e-10)


def _gaussian(mu, var=1.0):
    return MoEParams([[0.0]], [0.0], [[0.0, mu]], [var])


@pytest.mark.parametrize("mu", [0.3, 1.0, 2.5])
def test_density_distance_closed_forms(mu):
    X = np.zeros((3, 1))
    p, q = _gaussian(0.0), _gaussian(mu)
    # Hellinger^2 between N(0, 1) and N(mu, 1) is 1 - exp(-mu^2 / 8); smooth
    # integrand, trapezoid error at round-off (Euler-Maclaurin), tails < 1e-22
    h = density_distance(p, q, X)
    assert h == pytest.approx(np.sqrt(1 - np.exp(-mu**2 / 8)), abs=1e-12)
    # TV is 2 Phi(mu / 2) - 1; the kink at y = mu / 2 gives O(h^2) error with
    # h = (20 + mu) / 2000 ~ 0.011: h^2 * max density ~ 5e-5
    tv = density_distance(p, q, X, metric="tv")
    assert tv == pytest.approx(2 * ndtr(mu / 2) - 1, abs=5e-5)


def test_regression_distance_hand_computed():
    X = np.array([[0.0], [1.0], [2.0]])
    # one expert: f = x vs f = x + 0.3 -> L2 = 0.3
    p = MoEParams([[0.0]], [0.0], [[1.0, 0.0]], [1.0])
    q = MoEParams([[0.0]], [0.0], [[1.0, 0.3]], [1.0])
    assert regression_distance(p, q, X) == pytest.approx(0.3, abs=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "D5"}, "kind"),
    ({"kind": "D2", "_ffn": True}, "linear"),
])
def test_loss_validation(kwargs, match):
    truth = _truth_sigmoid()
    if kwargs.pop("_ffn", False):
        _, _, truth = make_moe_regression(10, 1, 2, experts="ffn", random_state=0)
    with pytest.raises(ValueError, match=match):
        voronoi_loss(truth, truth, **kwargs)


def test_density_validation():
    p = _gaussian(0.0)
    with pytest.raises(ValueError, match="metric"):
        density_distance(p, p, np.zeros((1, 1)), metric="kl")
    with pytest.raises(ValueError, match="n_grid"):
        density_distance(p, p, np.zeros((1, 1)), n_grid=2)


def test_logit_weights_consistency():
    # sigmoid atom weights: an estimate whose two atoms in cell A carry
    # beta_0 = logit(0.25) each has exact mass 0.5 = w*_A
    truth = _truth_sigmoid()
    est = MoEParams([[1.0], [1.0], [0.0]], [logit(0.25), logit(0.25), 0.0],
                    [[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], [0.1, 0.1, 0.1],
                    gating=SIG)
    assert voronoi_loss(est, truth, kind="D1") == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("seed", [2, 12, 87])
def test_softmax_renormalised_permutation_regression(seed):
    # permute() re-normalises the softmax gate (a translation); an earlier
    # candidate t = 0 that does not move with the estimate made these cases
    # differ by up to 1.35 (found by an exhaustive seed scan)
    rng = np.random.default_rng(seed)
    _, _, truth = make_moe_regression(10, 1, 2, random_state=seed)
    est = _perturbed(truth, rng, 2)
    order = rng.permutation(est.n_experts)
    a = voronoi_loss(est, truth)
    assert voronoi_loss(est.permute(order), truth) == pytest.approx(a, rel=1e-8)


# ------------------------------------------------------------------------
# Every term of D1-D4 as PAPERS.md section 4 writes them (arXiv:2505.10860,
# eqs. 4, 6, 10, 11), on cases worked out by hand. Sums of a few products of
# numbers of order one: round-off ~1e-16, so abs=1e-12 unless said otherwise.
# ------------------------------------------------------------------------
RELU = FFNExperts(activation="relu", fit_intercept=False, fit_bias=False)


def test_d2_exact_cell_is_a_sum_of_separate_norms():
    # one feature, two softmax atoms (slopes 2 and 0, weights exp(0.5) and 1);
    # the estimate moves atom 0's expert slope by 0.3 and intercept by 0.4.
    # D2's exact cell charges exp(beta_0) (|d eta_1| + |d eta_0|) = 0.7
    # exp(0.5), not the joint norm 0.5 exp(0.5). No translation helps: it
    # moves both slopes and both masses (derivative (w_0 + w_1) - 0.7 w_0 > 0)
    truth = MoEParams([[2.0], [0.0]], [0.5, 0.0], [[1.0, 0.0], [-1.0, 1.0]],
                      [0.1, 0.1])
    est = truth.copy()
    est.expert_params[0] += [0.3, 0.4]
    # Nelder-Mead stops 1e-10 from the kink at t = 0, itself a candidate
    assert voronoi_loss(est, truth, kind="D2") == pytest.approx(
        0.7 * np.exp(0.5), rel=1e-9)
    assert voronoi_loss(est, truth, kind="D1") == pytest.approx(
        0.5 * np.exp(0.5), rel=1e-9)


def _relu_truth():
    # experiment (a)'s routed experts 4 ReLU(-12 x), 4 ReLU(12 x) under a
    # softmax gate with slopes (2, 0) and intercepts (0.5, 0)
    return MoEParams([[2.0], [0.0]], [0.5, 0.0],
                     [[4.0, -12.0, 0.0, 0.0], [4.0, 12.0, 0.0, 0.0]],
                     [0.4, 0.4], experts=RELU)


def test_raw_parameters_are_the_default():
    # 2 ReLU(-24 x) is the same function as 4 ReLU(-12 x), but not the same
    # parameters: raw D1 = exp(0.5) |(2, -24) - (4, -12)| = exp(0.5) sqrt(148)
    # (t = 0 is the only breakpoint, any slope translation adds to the
    # slope terms); canonically both are (48, -1) and the loss is 0
    truth = _relu_truth()
    est = truth.copy()
    est.expert_params[0, :2] = [2.0, -24.0]
    raw = np.exp(0.5) * np.sqrt(148.0)
    assert voronoi_loss(est, truth) == pytest.approx(raw, rel=1e-9)
    assert voronoi_loss(est, truth, parametrization="raw") == pytest.approx(
        raw, rel=1e-9)
    assert voronoi_loss(est, truth, parametrization="canonical") < 1e-12
    cells, _ = voronoi_cells(est, truth, parametrization="raw")
    assert [c.tolist() for c in cells] == [[0], [1]]
    with pytest.raises(ValueError, match="parametrization must be one of"):
        voronoi_loss(est, truth, parametrization="rescaled")


def _shared_case(gating=SIG):
    # two true shared atoms (linear experts): kappa (2, 0), tau 0.2, omega 0.7
    # and kappa (-1, 1), tau 0.3, omega 0.3; estimate: s0 = (2.1, 0), 0.2, 0.4
    # and s1 = (2, 0), 0.25, 0.4 in cell 1; s2 = (-1, 1.2), 0.3, 0.2 alone
    truth = _truth_sigmoid(shared_params=[[2.0, 0.0], [-1.0, 1.0]],
                           shared_variance=[0.2, 0.3], shared_weights=[0.7, 0.3])
    est = truth.replace(shared_params=np.array([[2.1, 0.0], [2.0, 0.0],
                                                [-1.0, 1.2]]),
                        shared_variance=np.array([0.2, 0.25, 0.3]),
                        shared_weights=np.array([0.4, 0.4, 0.2]))
    return est, truth


# shared part, D1 form: mass |0.8 - 0.7| + |0.2 - 0.3| = 0.2; over-fitted
# cell 1: 0.4 (0.1^2 + 0) + 0.4 (0 + 0.05^2) = 0.005; exact cell 2:
# 0.2 (|(0, 0.2)| + 0) = 0.04
SHARED_D1 = 0.2 + 0.005 + 0.04


def test_d3_shared_part_is_weighted_with_its_mass_term():
    est, truth = _shared_case()
    cells, shared = voronoi_cells(est, truth)
    assert [c.tolist() for c in shared] == [[0, 1], [2]]
    # the routed atoms are the truth's: D3's routed part is 0
    assert voronoi_loss(est, truth, kind="D3") == pytest.approx(SHARED_D1,
                                                                abs=1e-12)


def test_d4_shared_part_against_the_truth_routed_against_the_reference():
    est, truth = _shared_case()
    # the reference moves routed atom 0 by 0.2 in slope and 0.3 in intercept
    # and carries the estimate's own shared atoms: D4 charges the routed
    # atoms first-order and unweighted against the reference, 0.2 + 0.3,
    # and the shared atoms against the TRUE shared atoms (SHARED_D1)
    ref = est.replace(gate_coef=est.gate_coef + [[0.2], [0.0]],
                      gate_intercept=est.gate_intercept + [0.3, 0.0])
    loss = voronoi_loss(est, truth, kind="D4", reference=ref)
    assert loss == pytest.approx(0.5 + SHARED_D1, abs=1e-12)
    assert voronoi_loss(est, truth, reference=ref) == loss  # auto -> D4
    # a reference of another convention is refused
    free = ref.replace(gating=NormalizedSigmoidGating(pin_last=False))
    with pytest.raises(ValueError, match="reference must be a model of the "
                                         "estimate's gating family and convention"):
        voronoi_loss(est, truth, reference=free)


def test_d4_routed_cells_are_the_references_and_several_atoms_each_count():
    # three estimated routed atoms, two of them near reference atom 0:
    # each adds its own |dbeta_1| + |dbeta_0| + |deta| + |dnu| (no mass term,
    # no square even in a cell of two)
    ref = _truth_sigmoid()
    est = MoEParams([[1.1], [0.9], [0.0]], [0.2, -0.1, 0.0],
                    [[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]], [0.1, 0.3, 0.1],
                    gating=SIG)
    # atom 0: 0.1 + 0.2 + 0 + 0; atom 1: 0.1 + 0.1 + 0.1 + 0.2; atom 2: 0
    assert voronoi_loss(est, ref, kind="D4", reference=ref) == pytest.approx(
        0.8, abs=1e-12)


def test_d2_shared_part_over_three_atoms_uses_rbar_6():
    # one true shared linear expert kappa = (2, 0), tau 0.2, omega 1 under a
    # softmax truth; three estimated shared atoms with omega 1/3 each in its
    # cell (|V| = 3, r = rbar(3) = 6): the paper's over-fitted shared term is
    # omega (|d kappa_1|^2 + |d kappa_0|^6 + |d tau|^3):
    #   s0 = (2.1, 0), 0.2 -> 0.1^2; s1 = (2, 0.1), 0.2 -> 0.1^6;
    #   s2 = (2, 0), 0.3 -> 0.1^3; mass |1 - 1| = 0
    truth = MoEParams([[2.0], [0.0]], [0.5, 0.0], [[1.0, 0.0], [-1.0, 1.0]],
                      [0.1, 0.1], shared_params=[[2.0, 0.0]],
                      shared_variance=[0.2], shared_weights=[1.0])
    est = truth.replace(shared_params=np.array([[2.1, 0.0], [2.0, 0.1],
                                                [2.0, 0.0]]),
                        shared_variance=np.array([0.2, 0.2, 0.3]),
                        shared_weights=np.full(3, 1 / 3))
    expected = (0.1**2 + 0.1**6 + 0.1**3) / 3
    # the routed atoms are the truth's: the translation t = 0 gives 0
    assert voronoi_loss(est, truth, kind="D2") == pytest.approx(expected,
                                                                abs=1e-12)
    # D1 keeps its own form for the same atoms: omega (|dkappa|^2 + |dtau|^2)
    assert voronoi_loss(est, truth, kind="D1") == pytest.approx(
        (0.01 + 0.01 + 0.01) / 3, abs=1e-12)


def test_d3_empty_cell_has_no_mass_term_and_exact_cell_is_unweighted():
    # estimate: both routed atoms in cell A (slopes 1.1, 0.9), none in B.
    # D3: mass of A |0.5 + 0.5 - 0.5| = 0.5 (over-fitted), B empty: nothing
    # (the mass term runs over |V| > 1 only); over-fitted unweighted:
    # 0.1^2 + 0.1^2 = 0.02
    est = MoEParams([[1.1], [0.9]], [0.0, 0.0], [[1.0, 0.0], [1.0, 0.0]],
                    [0.1, 0.1], gating=SIG)
    assert voronoi_loss(est, _truth_sigmoid(), kind="D3") == pytest.approx(
        0.52, abs=1e-12)
    # D1 charges the empty cell's true weight sigmoid(0) = 0.5 instead
    # and weights the over-fitted terms: 0.5 + 0.5 + 0.5 * 0.02
    assert voronoi_loss(est, _truth_sigmoid(), kind="D1") == pytest.approx(
        1.01, abs=1e-12)


def test_d3_has_a_flat_direction_when_the_pinned_cell_is_over_fitted():
    # experiment (c) under A.2: constant scores s*_1 = exp(-0.5) / 2 and
    # s*_2 = sigmoid(0) = 1/2. A fit with two atoms on the pinned true atom
    # (one of them pinned, s = 1/2, the other s_1) and one atom on true atom
    # 1 (s_0) has the truth's density whenever s_0 / (s_0 + s_1 + 1/2) =
    # s*_1 / (s*_1 + 1/2), i.e. s_0 = exp(-0.5) (s_1 + 1/2), for every s_1:
    # D3 is not zero along that line, so it cannot be bounded by the
    # distance between densities there (measured fits drift along it).
    from skmoe.convergence import deepseek_truth

    truth = deepseek_truth("c")
    s1 = 0.2
    s0 = np.exp(-0.5) * (s1 + 0.5)
    est = MoEParams(
        np.zeros((3, 1)), logit([s0, s1, 0.5]),
        truth.expert_params[[0, 1, 1]], truth.variance[[0, 1, 1]],
        gating=truth.gating, experts=truth.experts,
        shared_params=truth.shared_params, shared_variance=truth.shared_variance,
        shared_weights=truth.shared_weights, shared_experts=truth.shared_experts,
    )
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (200, 1))
    y = truth.sample_y(X, random_state=1)
    np.testing.assert_allclose(est.log_density(X, y), truth.log_density(X, y),
                               rtol=1e-12)
    # D3: the over-fitted pinned cell's mass |s_1 + 1/2 - 1/2| = s_1, plus
    # the exact cell's unweighted |d beta_0|; every location is exact
    expected = s1 + abs(logit(s0) - logit(np.exp(-0.5) / 2))
    assert voronoi_loss(est, truth, kind="D3") == pytest.approx(expected,
                                                                rel=1e-12)
