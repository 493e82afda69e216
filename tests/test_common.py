"""scikit-learn's own estimator checks over every public skae estimator."""

import inspect
from functools import partial

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skae
from skae import AutoEncoder
from skae.modules import DenseAutoEncoderModule

# sklearn's checks fit on a few dozen random rows (and the checks at the
# defaults for the default epochs): skae's collapse check warns on most of them.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Parameters that keep each estimator fast under the checks (a few epochs);
# anything not listed gets ``max_epochs=2`` when it has that parameter. A list
# of parameter sets checks the class once per set (each instance's repr, which
# shows its non-default parameters, tells the test ids apart).
_CONV_VAE = {"backbone": "conv", "channels": (3, 4), "max_epochs": 3, "random_state": 0}
CHECK_PARAMS = {
    "AutoEncoder": {"max_epochs": 3, "random_state": 0},
    "VAE": [{"max_epochs": 3, "random_state": 0}, _CONV_VAE],
    "CVAE": [{"max_epochs": 3, "random_state": 0}, _CONV_VAE],
    # novelty detection (the default), and outlier detection, where
    # contamination is the training outlier fraction sklearn's checks assert
    "AutoEncoderOutlierDetector": [
        {"estimator": AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=3)},
        {
            "estimator": AutoEncoder(n_components=2, hidden_layer_sizes=(8,), max_epochs=3),
            "novelty": False,
        },
    ],
    "ConvAE": {"channels": (4, 4), "max_epochs": 2, "random_state": 0},
    "ConvDenoisingAE": {"channels": (4, 4), "max_epochs": 2, "random_state": 0},
    "SparseAE": {
        "n_components": 4,
        "hidden_layer_sizes": (16,),
        "max_epochs": 3,
        "random_state": 0,
    },
    "TabularAE": {"max_epochs": 3, "random_state": 0},
    "SeqAE": {"n_components": 2, "hidden_size": 4, "max_epochs": 2, "random_state": 0},
    # A class called with n_features and n_components, as a user's own module would be.
    "ModuleAE": {
        "module": partial(DenseAutoEncoderModule, hidden_layer_sizes=(8,)),
        "n_components": 2,
        "max_epochs": 3,
        "random_state": 0,
    },
    "DenoisingAE": {"max_epochs": 3, "random_state": 0},
    "NoiseAugmenter": {"random_state": 0},
}

# Checks that an estimator is known to fail, with the reason.
EXPECTED_FAILED_CHECKS = {
    "NoiseAugmenter": {
        check: (
            "fit_transform corrupts the training data and transform passes data on "
            "unchanged (noise in training only, as imbalanced-learn's samplers "
            "resample in training only), so the two differ by design, as sklearn's "
            "TargetEncoder's fit_transform and transform do."
        )
        for check in ("check_transformer_general", "check_transformer_data_not_an_array")
    },
}


def _public_estimators():
    for name in skae.__all__:
        obj = getattr(skae, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            yield obj


def _instances():
    for cls in _public_estimators():
        param_sets = CHECK_PARAMS.get(cls.__name__, {})
        for params in [param_sets] if isinstance(param_sets, dict) else param_sets:
            params = dict(params)
            if "max_epochs" in cls().get_params():
                params.setdefault("max_epochs", 2)
            yield cls(**params)


@parametrize_with_checks(
    list(_instances()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _default_instances():
    for cls in _public_estimators():
        yield cls()


# Every public estimator as a user first meets it: the default constructor,
# default epochs and all.
@pytest.mark.slow
@parametrize_with_checks(
    list(_default_instances()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_defaults(estimator, check):
    check(estimator)
