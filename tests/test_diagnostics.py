"""Router diagnostics on hand-made routing tables (values computed by hand)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skmoe.datasets import make_moe_regression
from skmoe.diagnostics import (
    expert_utilization,
    jain_index,
    router_change_rate,
    router_saturation,
    routing_table,
    top_k_experts,
)

# 3 checkpoints, 4 inputs, k = 2
TABLE = np.array([
    [[0, 1], [1, 2], [2, 3], [0, 3]],
    [[0, 2], [1, 2], [2, 3], [3, 1]],
    [[2, 0], [2, 1], [3, 1], [1, 3]],
])


def test_saturation_by_hand():
    # t=1 vs final: |{0,1}∩{0,2}|=1, |{1,2}∩{1,2}|=2, |{2,3}∩{1,3}|=1,
    # |{0,3}∩{1,3}|=1 -> (1+2+1+1)/(4*2) = 5/8
    # t=2 vs final: 2, 2, 1, 2 -> 7/8
    assert_allclose(router_saturation(TABLE), [5 / 8, 7 / 8, 1.0])


def test_change_rate_by_hand():
    # t=1->2: new experts {2}, {}, {}, {1} -> 2/8; t=2->3: {}, {}, {1}, {} -> 1/8
    assert_allclose(router_change_rate(TABLE), [2 / 8, 1 / 8])


def test_jain_index_extremes_and_value():
    assert jain_index([3, 3, 3]) == 1.0
    assert jain_index([0, 5, 0, 0]) == 0.25
    # (1+2+3)^2 / (3 * (1+4+9)) = 36/42
    assert_allclose(jain_index([1, 2, 3]), 36 / 42)


def test_utilization_from_table_and_mass():
    shares, index = expert_utilization(TABLE[-1], n_experts=5)
    # final checkpoint selections: 2,0,2,1,3,1,1,3 -> counts [1,3,2,2,0]
    assert_allclose(shares, np.array([1, 3, 2, 2, 0]) / 8)
    assert_allclose(index, 64 / (5 * (1 + 9 + 4 + 4)))
    gates = np.array([[0.5, 0.5], [1.0, 0.0]])
    shares, index = expert_utilization(gates, by="mass")
    assert_allclose(shares, [0.75, 0.25])


def test_top_k_ties_and_order():
    assert top_k_experts([[0.2, 0.4, 0.4]], 2).tolist() == [[1, 2]]
    assert top_k_experts([[0.2, 0.4, 0.4]], 3).tolist() == [[1, 2, 0]]


def test_routing_table_aligns_labels():
    X, _, truth = make_moe_regression(200, 2, 4, random_state=1)
    table = routing_table([truth.permute([3, 1, 0, 2]), truth.permute([1, 0, 3, 2]),
                           truth], X, k=2)
    assert_allclose(router_saturation(table), 1.0)
    assert_allclose(router_change_rate(table), 0.0)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 3)), "shape \\(n_checkpoints, n_samples, k\\)"),
        (np.zeros((1, 2, 2), dtype=int), "k distinct experts"),
        (np.full((1, 2, 1), -1), "non-negative"),
        (np.zeros((1, 2, 1)), "integer expert indices"),
    ],
)
def test_bad_tables(bad, match):
    with pytest.raises(ValueError, match=match):
        router_saturation(bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="k must be an integer"):
        top_k_experts(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="n_experts must be given"):
        expert_utilization(TABLE[0])
    with pytest.raises(ValueError, match="shares must be"):
        jain_index([0, 0])
    with pytest.raises(ValueError, match="by must be"):
        expert_utilization(TABLE[0], 4, by="tokens")
