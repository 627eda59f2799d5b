"""Router diagnostics: saturation, change rate and expert utilisation.

Definitions follow Nguyen et al. (2025), "On DeepSeekMoE: statistical benefits
of shared experts and normalized sigmoid gating", arXiv:2505.10860. Given the
top-k expert sets :math:`E_i(t)` chosen for each input :math:`i` at checkpoints
:math:`t = 1, \\dots, T` (EM iterations, or fits on growing data):

- router saturation :math:`\\mathrm{Sat}(t) = \\frac{1}{n} \\sum_i
  |E_i(t) \\cap E_i(T)| / k`, how much of the final routing is already in
  place at checkpoint ``t``;
- router change rate :math:`\\mathrm{RCR}(t) = \\frac{1}{n} \\sum_i
  |E_i(t+1) \\setminus E_i(t)| / k`, how much the routing moves between two
  consecutive checkpoints;
- expert utilisation by Jain's fairness index :math:`J(r) = (\\sum_k r_k)^2 /
  (K \\sum_k r_k^2)` of the share :math:`r_k` of inputs (or of gate mass)
  expert ``k`` receives: 1 is perfectly balanced, :math:`1/K` is one expert
  taking everything.

A routing table is an integer array of shape ``(n_checkpoints, n_samples, k)``
holding, for each checkpoint and input, the indices of its ``k`` selected
experts (their order within a row does not matter).
"""

import numpy as np

from ._params import MoEParams
from .metrics import match_experts


def _check_table(routing):
    table = np.asarray(routing)
    if table.ndim != 3 or table.shape[0] < 1 or table.shape[2] < 1:
        raise ValueError(
            "routing must have shape (n_checkpoints, n_samples, k) with at least "
            f"one checkpoint and k >= 1; got shape {table.shape}."
        )
    if not np.issubdtype(table.dtype, np.integer):
        raise ValueError(
            f"routing must hold integer expert indices; got {table.dtype}."
        )
    if np.any(table < 0):
        raise ValueError("routing must hold non-negative expert indices.")
    sorted_rows = np.sort(table, axis=2)
    if np.any(sorted_rows[..., 1:] == sorted_rows[..., :-1]):
        raise ValueError("each routing row must list k distinct experts.")
    return table


def _overlap(a, b):
    """``|A_i ∩ B_i|`` for every row of two (n, k) index arrays."""
    return (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)


def top_k_experts(gates, k):
    """Select the ``k`` experts with the largest gate weights in every row.

    Parameters
    ----------
    gates : array-like of shape (n_samples, n_experts)
        Gate weights (or any scores).
    k : int
        Number of selected experts, ``1 <= k <= n_experts``.

    Returns
    -------
    experts : ndarray of int of shape (n_samples, k)
        Selected experts, largest weight first; ties go to the lower index.

    Examples
    --------
    >>> from skmoe.diagnostics import top_k_experts
    >>> top_k_experts([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], 2).tolist()
    [[1, 2], [0, 2]]
    """
    gates = np.asarray(gates, dtype=np.float64)
    if gates.ndim != 2:
        raise ValueError(f"gates must be 2-D; got shape {gates.shape}.")
    K = gates.shape[1]
    if not (isinstance(k, (int, np.integer)) and 1 <= k <= K):
        raise ValueError(f"k must be an integer in [1, {K}]; got {k!r}.")
    # stable sort on -gates: ties keep index order
    return np.argsort(-gates, axis=1, kind="stable")[:, :k]


def router_saturation(routing):
    """Router saturation :math:`\\mathrm{Sat}(t)` against the last checkpoint.

    Parameters
    ----------
    routing : array-like of int of shape (n_checkpoints, n_samples, k)
        Top-k expert sets per checkpoint and input.

    Returns
    -------
    saturation : ndarray of shape (n_checkpoints,)
        ``mean_i |E_i(t) ∩ E_i(T)| / k``; the last entry is 1.

    Examples
    --------
    >>> from skmoe.diagnostics import router_saturation
    >>> table = [[[0], [1]], [[0], [0]], [[1], [0]]]   # 3 checkpoints, k=1
    >>> router_saturation(table).tolist()
    [0.0, 0.5, 1.0]
    """
    table = _check_table(routing)
    k = table.shape[2]
    final = table[-1]
    return np.array([_overlap(t, final).mean() / k for t in table])


def router_change_rate(routing):
    """Router change rate :math:`\\mathrm{RCR}(t)` between consecutive checkpoints.

    Parameters
    ----------
    routing : array-like of int of shape (n_checkpoints, n_samples, k)
        Top-k expert sets per checkpoint and input.

    Returns
    -------
    change_rate : ndarray of shape (n_checkpoints - 1,)
        ``mean_i |E_i(t+1) \\ E_i(t)| / k`` for ``t = 1 .. T-1``.

    Examples
    --------
    >>> from skmoe.diagnostics import router_change_rate
    >>> table = [[[0, 1], [1, 2]], [[0, 2], [1, 2]]]   # 2 checkpoints, k=2
    >>> router_change_rate(table).tolist()
    [0.25]
    """
    table = _check_table(routing)
    k = table.shape[2]
    return np.array([
        (k - _overlap(table[t + 1], table[t])).mean() / k
        for t in range(table.shape[0] - 1)
    ])


def jain_index(shares):
    """Compute Jain's fairness index :math:`(\\sum_k r_k)^2 / (K \\sum_k r_k^2)`.

    Parameters
    ----------
    shares : array-like of shape (n_experts,)
        Non-negative load of each expert (counts, shares or gate mass), not
        all zero.

    Returns
    -------
    index : float
        In ``[1 / n_experts, 1]``; 1 when all loads are equal.

    Examples
    --------
    >>> from skmoe.diagnostics import jain_index
    >>> jain_index([1, 1, 1, 1]), jain_index([4, 0, 0, 0])
    (1.0, 0.25)
    """
    r = np.asarray(shares, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or np.any(r < 0) or not np.any(r > 0):
        raise ValueError(
            "shares must be a non-empty 1-D array of non-negative loads, not all "
            f"zero; got {shares!r}."
        )
    return float(r.sum() ** 2 / (r.size * np.sum(r**2)))


def expert_utilization(routing_or_gates, n_experts=None, *, by="inputs"):
    """Share of the load each expert receives, and its Jain index.

    Parameters
    ----------
    routing_or_gates : array-like
        Either a routing table of one checkpoint, integer array of shape
        (n_samples, k), or a gate matrix of shape (n_samples, n_experts) when
        ``by="mass"``.
    n_experts : int, default=None
        Number of experts (required with a routing table, since an expert may
        receive no input at all).
    by : {"inputs", "mass"}, default="inputs"
        ``"inputs"``: the share of (input, slot) selections each expert gets
        from a routing table; ``"mass"``: the share of total gate mass from a
        gate matrix.

    Returns
    -------
    shares : ndarray of shape (n_experts,)
        Load shares, summing to one.
    index : float
        Jain's index of ``shares``.

    Examples
    --------
    >>> from skmoe.diagnostics import expert_utilization
    >>> shares, index = expert_utilization([[0], [0], [1], [2]], n_experts=4)
    >>> shares.tolist(), round(index, 4)
    ([0.5, 0.25, 0.25, 0.0], 0.6667)
    """
    if by == "inputs":
        table = np.asarray(routing_or_gates)
        if table.ndim != 2:
            raise ValueError(
                "with by='inputs', pass one routing table of shape (n_samples, k); "
                f"got shape {table.shape}."
            )
        _check_table(table[None])
        if n_experts is None or table.max() >= n_experts:
            raise ValueError(
                "n_experts must be given and exceed every expert index in the "
                f"routing table; got n_experts={n_experts!r}."
            )
        counts = np.bincount(table.ravel(), minlength=n_experts).astype(float)
    elif by == "mass":
        gates = np.asarray(routing_or_gates, dtype=np.float64)
        if gates.ndim != 2 or np.any(gates < 0):
            raise ValueError("with by='mass', pass a non-negative (n, K) gate matrix.")
        counts = gates.sum(axis=0)
    else:
        raise ValueError(f"by must be 'inputs' or 'mass'; got {by!r}.")
    shares = counts / counts.sum()
    return shares, jain_index(shares)


def routing_table(models, X, k):
    """Top-k routing of several models on the same inputs, labels aligned.

    Experts of different fits come in arbitrary order, so every model is first
    relabelled to match the last one (Hungarian matching of
    :func:`skmoe.metrics.match_experts`); the table then compares like with
    like.

    Parameters
    ----------
    models : sequence of MoEParams
        Models with the same number of experts and features (for example fits
        on growing samples, or snapshots along EM).
    X : array-like of shape (n_samples, n_features)
        Inputs to route.
    k : int
        Number of experts selected per input.

    Returns
    -------
    routing : ndarray of int of shape (len(models), n_samples, k)
        Routing table, for :func:`router_saturation`, :func:`router_change_rate`
        and :func:`expert_utilization`.

    Examples
    --------
    >>> from skmoe.datasets import make_moe_regression
    >>> from skmoe.diagnostics import routing_table, router_saturation
    >>> X, _, truth = make_moe_regression(100, 2, 3, random_state=0)
    >>> table = routing_table([truth.permute([2, 0, 1]), truth], X, k=1)
    >>> router_saturation(table).tolist()   # relabelling does not count
    [1.0, 1.0]
    """
    models = list(models)
    if not models or not all(isinstance(m, MoEParams) for m in models):
        raise ValueError("models must be a non-empty sequence of MoEParams.")
    reference = models[-1]
    K = reference.n_experts
    if any(m.n_experts != K for m in models):
        raise ValueError("all models must have the same number of experts.")
    tables = []
    for model in models:
        est_index, true_index = match_experts(model, reference)
        order = np.empty(K, dtype=int)
        order[true_index] = est_index
        tables.append(top_k_experts(model.permute(order).gates(X), k))
    return np.stack(tables)
