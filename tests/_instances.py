"""Small, seeded estimator instances for the scikit-learn common checks."""

from skmoe import (
    FFNExperts,
    GaussianGating,
    HierarchicalSoftmaxGating,
    LinearExperts,
    MixtureOfExpertsRegressor,
    NormalizedSigmoidGating,
    PolynomialExperts,
    SoftmaxGating,
)
from skmoe.noise import MultivariateGaussianNoise


def small_instances():
    """One small instance per gating family and per expert family."""
    # the default start (auto) once, and the random start once; the family
    # instances below start from one random start, so the checks of every
    # family do not repeat the auto start's 20 short runs per fit (7-14x the
    # time of a fit on these tiny data; the auto start of every family is
    # tested in tests/test_auto_start.py)
    yield MixtureOfExpertsRegressor(n_experts=2, max_iter=30, random_state=0)
    yield MixtureOfExpertsRegressor(n_experts=2, max_iter=30, random_state=0,
                                    init_params="random")
    common = dict(n_experts=2, max_iter=30, random_state=0, init_params="random")
    yield MixtureOfExpertsRegressor(
        gating=SoftmaxGating(temperature=0.5),
        experts=LinearExperts(fit_intercept=False),
        **{**common, "init_params": "kmeans"},
    )
    # one instance per further expert family and per gradient solver
    yield MixtureOfExpertsRegressor(experts=FFNExperts(), **common)
    yield MixtureOfExpertsRegressor(experts=PolynomialExperts(degree=2), **common)
    yield MixtureOfExpertsRegressor(solver="lbfgs", **common)
    yield MixtureOfExpertsRegressor(
        solver="gd",
        objective="least_squares",
        experts=FFNExperts(activation="relu"),
        **common,
    )
    # one instance per further gating family, and shared experts
    yield MixtureOfExpertsRegressor(gating=SoftmaxGating(top_k=1), **common)
    yield MixtureOfExpertsRegressor(gating=NormalizedSigmoidGating(top_k=2),
                                    **{**common, "n_experts": 3})
    yield MixtureOfExpertsRegressor(gating=HierarchicalSoftmaxGating(n_groups=2),
                                    **common)
    yield MixtureOfExpertsRegressor(gating=GaussianGating(), **common)
    yield MixtureOfExpertsRegressor(n_shared_experts=1, **common)
    # the Student-t noise model (heavy tails)
    yield MixtureOfExpertsRegressor(noise="student_t", **common)
    # several responses with uncorrelated noise, given as a noise object (the
    # default instance covers full covariances: noise="gaussian" takes them
    # for a 2-D y)
    yield MixtureOfExpertsRegressor(
        noise=MultivariateGaussianNoise(covariance_type="diag"), **common)
    # column selections (indices that every width of the checks' data has):
    # covariate-free gate weights, a gate on the first column, experts on it
    yield MixtureOfExpertsRegressor(gate_features=[], **common)
    yield MixtureOfExpertsRegressor(gate_features=[0], **common)
    yield MixtureOfExpertsRegressor(expert_features=[0], **common)


def expected_failed_checks(estimator):
    """Checks expected to fail for ``estimator``, with the reason."""
    if isinstance(estimator.experts, FFNExperts) and (
            estimator.solver == "em" or estimator.init_params == "auto"):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "15 samples and 30 features: every FFN expert interpolates, the "
                "variances sit at the floor (1e-6 Var(y)), and expert parameters "
                "that agree to 1e-10 (summation order) give responsibilities "
                "and gates that differ by 1e-5 after EM iterations (those of "
                "solver='em', or the short EM runs of init_params='auto' that "
                "start a gradient solver: 1.2e-4 in the predictions); on data "
                "with n >> p integer weights equal repeated rows to 1e-12, see "
                "tests/test_ffn.py::test_integer_weights_equal_repeated_rows"
            ),
        }
    if estimator.expert_features is not None:
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "15 samples, a gate on 30 features and experts on one: the "
                "gate nearly separates the samples (slopes above 20 after 30 "
                "iterations), and fits whose log-likelihoods agree to 1e-13 "
                "predict values that differ by 1e-6; on data with n >> p "
                "integer weights equal repeated rows to 1e-10, see "
                "tests/test_covariates.py::test_integer_weights_equal_repeated_rows"
            ),
        }
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
        NormalizedSigmoidGating(pin_last=False),
        NormalizedSigmoidGating(top_k=2, pin_last=False),
        HierarchicalSoftmaxGating(n_groups=1),
        HierarchicalSoftmaxGating(n_groups=3),
        GaussianGating(covariance_type="diag"),
        GaussianGating(covariance_type="spherical", joint_proposal=False),
    ]


def experts_instances():
    """Every registered expert family, plus non-default configurations."""
    from skmoe.experts import EXPERTS

    return [cls() for cls in EXPERTS.values()] + [
        LinearExperts(fit_intercept=False),
        PolynomialExperts(degree=3, fit_intercept=False),
        FFNExperts(activation="sigmoid"),
        FFNExperts(activation="relu"),
        FFNExperts(activation="gelu", fit_intercept=False),
        FFNExperts(activation="relu", fit_intercept=False, fit_bias=False),
    ]
