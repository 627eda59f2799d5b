"""Small, seeded estimator instances for the scikit-learn common checks."""

from skmoe import LinearExperts, MixtureOfExpertsRegressor, SoftmaxGating


def small_instances():
    """One small instance per gating family and per expert family."""
    common = dict(n_experts=2, max_iter=30, random_state=0)
    yield MixtureOfExpertsRegressor(**common)
    yield MixtureOfExpertsRegressor(
        gating=SoftmaxGating(temperature=0.5),
        experts=LinearExperts(fit_intercept=False),
        init_params="kmeans",
        **common,
    )


def expected_failed_checks(estimator):
    """Checks expected to fail for ``estimator``, with the reason."""
    if estimator.init_params == "kmeans":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "k-means++ seeding draws rows at random, so integer weights and "
                "repeated rows consume the random stream differently and start "
                "EM elsewhere (it may pass by chance); the default 'random' "
                "start depends on the data only through weighted sums and "
                "passes, see tests/test_sample_weight.py"
            ),
        }
    return {}


def gating_instances():
    """Every registered gating family, plus non-default configurations."""
    from skmoe import (
        HierarchicalSoftmaxGating,
        NormalizedSigmoidGating,
        SoftmaxGating,
    )
    from skmoe.gating import GATINGS

    return [cls() for cls in GATINGS.values()] + [
        SoftmaxGating(temperature=0.3),
        SoftmaxGating(top_k=2),
        SoftmaxGating(top_k=1),
        SoftmaxGating(learn_temperature=True),
        SoftmaxGating(schedule="geometric", initial_temperature=4.0),
        SoftmaxGating(activation="tanh", temperature=0.5),
        SoftmaxGating(activation="sigmoid", learn_temperature=True),
        SoftmaxGating(top_k=2, activation="tanh", learn_temperature=True),
        NormalizedSigmoidGating(top_k=2),
        NormalizedSigmoidGating(top_k=1),
        HierarchicalSoftmaxGating(n_groups=1),
        HierarchicalSoftmaxGating(n_groups=3),
    ]


def experts_instances():
    """Every registered expert family, plus non-default configurations."""
    from skmoe.experts import EXPERTS

    return [cls() for cls in EXPERTS.values()] + [LinearExperts(fit_intercept=False)]
