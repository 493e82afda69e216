"""Saving and loading without pickle: round trips, the safety promise, pickling."""

import copy
import doctest
import json
import os
import pickle
import warnings
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler

import skae
import skae.persistence
from skae import (
    CVAE,
    VAE,
    AutoEncoder,
    AutoEncoderOutlierDetector,
    ConvAE,
    ConvDenoisingAE,
    DenoisingAE,
    ModuleAE,
    NoiseAugmenter,
    SeqAE,
    SparseAE,
    TabularAE,
)
from skae._codec import _Reader, _Writer
from skae.modules import DenseAutoEncoderModule
from skae.persistence import VersionMismatchWarning

# The models saved here train for an epoch or two on a few rows (the round
# trips are what is checked), which skae's collapse check warns about.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.RandomState(0)
X = RNG.rand(40, 16)
Y = np.arange(40) % 3
FAST = {"max_epochs": 2, "random_state": 0}
SMALL_MODULE = partial(DenseAutoEncoderModule, hidden_layer_sizes=(8,))

# Every public estimator, with each backbone, small enough to fit in a blink.
ESTIMATORS = {
    "AutoEncoder": lambda: AutoEncoder(n_components=3, hidden_layer_sizes=(8,), **FAST),
    "AutoEncoder-bce": lambda: AutoEncoder(n_components=3, loss="bce", **FAST),
    "DenoisingAE": lambda: DenoisingAE(n_components=3, noise="masking", **FAST),
    "DenoisingAE-augmenter": lambda: DenoisingAE(
        noise=NoiseAugmenter("gaussian", level=0.3, clip=(0, 1)), **FAST
    ),
    "ConvDenoisingAE": lambda: ConvDenoisingAE(image_shape=(4, 4), channels=(2, 3), **FAST),
    "SparseAE": lambda: SparseAE(n_components=4, hidden_layer_sizes=(8,), **FAST),
    "ConvAE": lambda: ConvAE(n_components=3, image_shape=(1, 4, 4), channels=(2, 2), **FAST),
    "SeqAE": lambda: SeqAE(n_components=2, sequence_shape=(4, 4), hidden_size=3, **FAST),
    "ModuleAE": lambda: ModuleAE(module=SMALL_MODULE, n_components=2, **FAST),
    "TabularAE": lambda: TabularAE(n_components=2, hidden_layer_sizes=(8,), **FAST),
    "VAE": lambda: VAE(n_components=2, hidden_layer_sizes=(8,), **FAST),
    "VAE-conv": lambda: VAE(backbone="conv", image_shape=(4, 4), channels=(2, 2), **FAST),
    "CVAE": lambda: CVAE(n_components=2, hidden_layer_sizes=(8,), kl_warmup_epochs=3, **FAST),
    "CVAE-conv": lambda: CVAE(backbone="conv", image_shape=(4, 4), channels=(2, 2), **FAST),
    "AutoEncoderOutlierDetector": lambda: AutoEncoderOutlierDetector(
        VAE(n_components=2, **FAST), contamination=0.1
    ),
    "AutoEncoderOutlierDetector-squared": lambda: AutoEncoderOutlierDetector(
        AutoEncoder(n_components=2, **FAST), error="squared", standardize=False
    ),
    "NoiseAugmenter": lambda: NoiseAugmenter("salt_and_pepper", level=0.1, random_state=3),
}


def _modules(est):
    return {"module": SMALL_MODULE} if isinstance(est, ModuleAE) else None


def assert_same(a, b):
    """Equal values, arrays bit for bit (dtype included), estimators by class and params."""
    if isinstance(a, BaseEstimator):
        assert type(a) is type(b)
        pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        assert pa.keys() == pb.keys()
        for key in pa:
            assert_same(pa[key], pb[key])
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b, strict=True)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_same(u, v)
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, float) and np.isnan(a):
        assert type(a) is type(b) and np.isnan(b)
    else:
        assert type(a) is type(b) and a == b


def outputs(est):
    """Everything a fitted estimator computes deterministically."""
    if isinstance(est, NoiseAugmenter):
        return {"transform": np.asarray(est.transform(X))}
    if isinstance(est, AutoEncoderOutlierDetector):
        return {
            "score_samples": est.score_samples(X),
            "decision_function": est.decision_function(X),
            "predict": est.predict(X),
            "offset_": est.offset_,
        }
    Z = est.transform(X)
    out = {"transform": Z, "score_samples": est.score_samples(X)}
    if isinstance(est, CVAE):
        out["inverse_transform"] = est.inverse_transform(Z, y=Y)
        out["sample"] = est.sample(5, y=1, random_state=0)
    else:
        out["inverse_transform"] = est.inverse_transform(Z)
        out["sample"] = est.sample(5, random_state=0)
    return out


def fitted_state(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_") and k != "net_"}


@pytest.fixture(scope="module")
def fitted():
    return {name: make().fit(X, Y) for name, make in ESTIMATORS.items()}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_is_bit_identical(fitted, name, tmp_path):
    est = fitted[name]
    path = tmp_path / "model.skae"
    est.save(path)
    loaded = skae.load(path, modules=_modules(est))
    assert type(loaded) is type(est)
    assert_same(est, loaded)  # get_params, nested estimators included
    assert_same(fitted_state(est), fitted_state(loaded))
    assert_same(outputs(est), outputs(loaded))
    if hasattr(est, "net_"):
        # the history is kept per epoch; per-batch records are not
        epochs = [{**row, "batches": []} for row in est.net_.history]
        assert_same(epochs, list(loaded.net_.history))
        for p, q in zip(
            est.net_.module_.state_dict().values(),
            loaded.net_.module_.state_dict().values(),
            strict=True,
        ):
            assert torch.equal(p, q)


@pytest.mark.parametrize("name", ["AutoEncoder", "CVAE", "NoiseAugmenter"])
def test_unfitted_round_trip(name, tmp_path):
    est = ESTIMATORS[name]()
    skae.save(est, tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert_same(est, loaded)
    assert not fitted_state(loaded)


def test_file_holds_json_metadata_and_safetensors_weights(fitted, tmp_path):
    est = fitted["AutoEncoder"]
    est.save(tmp_path / "m.skae")
    with zipfile.ZipFile(tmp_path / "m.skae") as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "weights.safetensors"]
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.safetensors")
    assert metadata["format"] == "skae" and metadata["format_version"] == 1
    assert set(metadata["versions"]) >= {"skae", "torch", "sklearn", "numpy"}
    assert metadata["object"]["estimator"]["class"] == "skae.AutoEncoder"
    assert metadata["object"]["estimator"]["params"]["hidden_layer_sizes"] == {"tuple": [8]}
    n_weights = sum(p.numel() for p in est.net_.module_.parameters())
    # float32 weights plus a few small float64 arrays (code_mean_, code_std_)
    assert 4 * n_weights < len(weights) < 4 * n_weights + 4096


def test_pipeline_round_trip(tmp_path):
    pipe = Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("noise", NoiseAugmenter("gaussian", level=0.2, random_state=0)),
            ("dae", DenoisingAE(n_components=3, **FAST)),
            ("pca", PCA(2)),
            ("std", StandardScaler()),
        ]
    ).fit(X)
    skae.save(pipe, tmp_path / "pipe.skae")
    loaded = skae.load(tmp_path / "pipe.skae")
    assert isinstance(loaded, Pipeline)
    assert [name for name, _ in loaded.steps] == ["scale", "noise", "dae", "pca", "std"]
    for (_, a), (_, b) in zip(pipe.steps, loaded.steps, strict=True):
        assert_same(a, b)
        assert_same(fitted_state(a), fitted_state(b))
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X), strict=True)
    dae = loaded.named_steps["dae"]
    assert_same(outputs(pipe.named_steps["dae"]), outputs(dae))


def test_pipeline_with_passthrough(tmp_path):
    pipe = Pipeline([("skip", "passthrough"), ("ae", AutoEncoder(n_components=2, **FAST))])
    pipe.fit(X)
    skae.save(pipe, tmp_path / "pipe.skae")
    loaded = skae.load(tmp_path / "pipe.skae")
    assert loaded.steps[0] == ("skip", "passthrough")
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X), strict=True)


@pytest.mark.parametrize(
    "step", [KNeighborsClassifier(3), FunctionTransformer(np.log1p)], ids=lambda s: type(s).__name__
)
def test_pipeline_with_an_unsupported_step_is_refused(tmp_path, step):
    pipe = make_pipeline(AutoEncoder(n_components=2, **FAST), step).fit(X, Y)
    name = type(step).__name__
    with pytest.raises(TypeError, match=rf"steps\[1\]\[1\].*{name}.*skops"):
        skae.save(pipe, tmp_path / "pipe.skae")
    assert not os.listdir(tmp_path)  # no file, not even a partial one


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="not KNeighborsClassifier"):
        skae.save(KNeighborsClassifier(), tmp_path / "m.skae")

    class MyAdam(torch.optim.Adam):
        pass

    est = AutoEncoder(optimizer=MyAdam, **FAST).fit(X)
    with pytest.raises(TypeError, match="optimizer.*MyAdam.*torch optimizers"):
        est.save(tmp_path / "m.skae")
    assert not os.listdir(tmp_path)


def test_a_failed_save_leaves_an_existing_file_intact(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    before = path.read_bytes()
    est = AutoEncoder(optimizer_kwargs={"betas": object()}, **FAST)
    with pytest.raises(TypeError, match="optimizer_kwargs"):
        est.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.skae"]


def test_random_state_instances_keep_their_state(tmp_path):
    rng = np.random.RandomState(7)
    rng.standard_normal(3)  # mid-stream, with a cached Gaussian
    est = NoiseAugmenter(random_state=rng).fit(X)
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert loaded.random_state is not rng
    assert_same(loaded.random_state.get_state(), rng.get_state())
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X), strict=True)


def test_torch_optimizer_classes_are_saved_by_name(tmp_path):
    est = AutoEncoder(optimizer=torch.optim.NAdam, **FAST).fit(X)
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert loaded.optimizer is torch.optim.NAdam
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X), strict=True)


# ----------------------------------------------------------------------
# ModuleAE: the user's code is passed again
# ----------------------------------------------------------------------
def test_module_ae_needs_its_module_again(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["ModuleAE"].save(path)
    with pytest.raises(ValueError, match=r"module=functools.partial\(.*modules=\{'module'"):
        skae.load(path)
    with pytest.raises(ValueError, match=r"modules=\['encoder'\].*needs \['module'\]"):
        skae.load(path, modules={"module": SMALL_MODULE, "encoder": SMALL_MODULE})


def test_module_ae_with_module_instances_and_halves(tmp_path):
    from torch import nn

    encoder, decoder = nn.Linear(16, 2), nn.Sequential(nn.Linear(2, 16), nn.Sigmoid())
    est = ModuleAE(encoder=encoder, decoder=decoder, **FAST).fit(X)
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae", modules={"encoder": encoder, "decoder": decoder})
    assert_same(outputs(est), outputs(loaded))


def test_callbacks_are_dropped_with_a_warning(tmp_path):
    from skorch.callbacks import EpochTimer

    est = AutoEncoder(callbacks=[EpochTimer()], **FAST).fit(X)
    with pytest.warns(UserWarning, match="callbacks names code or a place on disk"):
        est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X), strict=True)


def test_warnings_name_the_line_that_saved_or_loaded(tmp_path):
    from skorch.callbacks import EpochTimer

    est = AutoEncoder(callbacks=[EpochTimer()], **FAST).fit(X)
    pipe = make_pipeline(StandardScaler(), est)
    for save in (est.save, partial(skae.save, est), partial(skae.save, pipe)):
        with pytest.warns(UserWarning, match="callbacks names code") as record:
            save(tmp_path / "m.skae")
        assert [w.filename for w in record] == [__file__]
    _rewrite(tmp_path / "m.skae", lambda m: m["versions"].update(skae="0.0.1"))
    with pytest.warns(VersionMismatchWarning) as record:
        skae.persistence.load(tmp_path / "m.skae")
    assert [w.filename for w in record] == [__file__]


def test_the_allow_list_holds_the_registered_classes():
    assert set(skae._codec.ESTIMATORS) == {
        *(f"skae.{name}" for name in ESTIMATORS if "-" not in name),
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing.StandardScaler",
        "sklearn.preprocessing.MinMaxScaler",
        "sklearn.preprocessing.MaxAbsScaler",
        "sklearn.decomposition.PCA",
    }
    assert skae._codec.ESTIMATORS["skae.CVAE"] is CVAE


def test_a_name_keeps_one_meaning_in_the_allow_list():
    skae._codec.register("skae.AutoEncoder", AutoEncoder)  # the same pair again: no change
    with pytest.raises(ValueError, match="already registered for AutoEncoder"):
        skae._codec.register("skae.AutoEncoder", SparseAE)
    with pytest.raises(ValueError, match="already registered as 'skae.AutoEncoder'"):
        skae._codec.register("skae.MyAutoEncoder", AutoEncoder)
    assert skae._codec.ESTIMATORS["skae.AutoEncoder"] is AutoEncoder


def test_loading_leaves_output_activation_as_given(fitted, tmp_path):
    est = fitted["AutoEncoder"]
    assert est.output_activation == "auto" and est.output_activation_ == "sigmoid"
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert loaded.output_activation == "auto" and loaded.output_activation_ == "sigmoid"


# ----------------------------------------------------------------------
# Training a loaded model further
# ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["AutoEncoder", "DenoisingAE", "CVAE"])
def test_loaded_model_trains_further_from_its_weights(fitted, name, tmp_path):
    est = fitted[name]
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    loaded.set_params(warm_start=True, max_epochs=1).fit(X, Y)
    assert loaded.n_iter_ == est.n_iter_ + 1
    assert loaded.loss_curve_[:-1] == est.loss_curve_
    assert np.isfinite(loaded.loss_curve_[-1])
    # the weights moved on from the saved ones, the saved model is untouched
    assert not np.array_equal(loaded.transform(X), est.transform(X))
    partial = skae.load(tmp_path / "m.skae").partial_fit(X, Y)
    assert partial.n_iter_ == est.n_iter_ + 1


# ----------------------------------------------------------------------
# Devices and versions
# ----------------------------------------------------------------------
def _rewrite(path, edit):
    """Rewrite the metadata of a saved file through ``edit(metadata)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(members["metadata.json"])
    edit(metadata)
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _as_if_trained_on_cuda(metadata):
    est = metadata["object"]["estimator"]
    est["params"]["device"] = "cuda"
    est["state"]["net_"]["net"]["device"] = "cuda:0"


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_model_trained_on_cuda_loads_on_the_cpu(fitted, tmp_path):
    est = fitted["VAE"]
    path = tmp_path / "m.skae"
    est.save(path)
    _rewrite(path, _as_if_trained_on_cuda)
    with pytest.warns(UserWarning, match="trained on 'cuda:0'.*loaded on the CPU") as record:
        loaded = skae.load(path)
    assert [w.filename for w in record] == [__file__]
    assert loaded.device == "cuda"  # the parameter is kept as given
    assert str(loaded.net_.device) == "cpu"
    assert_same(outputs(est), outputs(loaded))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moved = skae.load(path, device="cpu")
    assert moved.device == "cpu" and str(moved.net_.device) == "cpu"
    assert_same(outputs(est), outputs(moved))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_override_is_checked(fitted, tmp_path):
    fitted["AutoEncoder"].save(tmp_path / "m.skae")
    with pytest.raises(ValueError, match="CUDA is not available"):
        skae.load(tmp_path / "m.skae", device="cuda")


def test_device_override_then_training_further(tmp_path):
    est = AutoEncoder(n_components=2, device="auto", **FAST).fit(X)
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae", device="cpu")
    assert loaded.device == "cpu"
    loaded.set_params(warm_start=True, max_epochs=1).fit(X)
    assert loaded.n_iter_ == est.n_iter_ + 1 and str(loaded.net_.device) == "cpu"


def test_device_override_reaches_nested_estimators(fitted, tmp_path):
    fitted["AutoEncoderOutlierDetector"].save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae", device="auto")
    assert loaded.estimator_.device == "auto"


@pytest.mark.parametrize(
    ("package", "version"), [("skae", "0.9.0"), ("skae", "1.1.0"), ("sklearn", "0.24.2")]
)
def test_version_mismatch_warns(fitted, tmp_path, package, version):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    _rewrite(path, lambda m: m["versions"].update({package: version}))
    with pytest.warns(VersionMismatchWarning, match=f"written with {package} {version}"):
        loaded = skae.load(path)
    np.testing.assert_array_equal(loaded.transform(X), fitted["AutoEncoder"].transform(X))


def test_same_minor_version_does_not_warn(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    patch = skae.__version__.rsplit(".", 1)[0] + ".99"
    _rewrite(path, lambda m: m["versions"].update({"skae": patch}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skae.load(path)


def test_newer_format_is_an_error(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    _rewrite(path, lambda m: m.update(format_version=2))
    with pytest.raises(ValueError, match="format 2, newer than the format 1.*Upgrade skae"):
        skae.load(path)


# ----------------------------------------------------------------------
# Loading runs no code from the file
# ----------------------------------------------------------------------
class _Payload:
    """Unpickling this runs ``open(marker, "w")``: a stand-in for any code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payload_inside_the_archive_does_not_run(fitted, tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("data.pkl", pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match=r"unexpected members \['data.pkl'\]"):
        skae.load(path)
    assert not marker.exists()
    # the planted pickle does run when unpickled: the test can tell
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()


def test_duplicate_members_are_refused(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    with zipfile.ZipFile(path) as archive:
        metadata = archive.read("metadata.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("metadata.json", metadata)
    with pytest.raises(ValueError, match="should hold exactly"):
        skae.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No skae file"):
        skae.load(tmp_path / "nothing.skae")


def test_a_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "m.skae"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError, match="not a skae file.*pickle.*any code"):
        skae.load(path)
    assert not marker.exists()


def _set_root_class(name, params):
    def edit(metadata):
        metadata["object"]["estimator"]["class"] = name
        metadata["object"]["estimator"]["params"] = params
        metadata["object"]["estimator"]["state"] = {}

    return edit


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set_root_class("os.system", {"command": "touch x"}), "class 'os.system'"),
        (_set_root_class("builtins.eval", {"source": "1"}), "class 'builtins.eval'"),
        (
            _set_root_class("skae.AutoEncoder", {"optimizer": {"optimizer": "os.system"}}),
            "optimizer 'os.system'",
        ),
        (
            _set_root_class("skae.AutoEncoder", {"n_components": {"callable": "os.system"}}),
            "unknown kind 'callable'",
        ),
        (
            _set_root_class("skae.AutoEncoder", {"n_components": {"__reduce__": ["os.system"]}}),
            "unknown kind '__reduce__'",
        ),
        (
            _set_root_class("skae.AutoEncoder", {"n_components": {"_decode_estimator": {}}}),
            "unknown kind '_decode_estimator'",
        ),
        (
            _set_root_class("skae.AutoEncoder", {"command": "touch x"}),
            "parameters do not fit skae.AutoEncoder",
        ),
        (
            lambda m: m["object"]["estimator"]["state"].update({"__class__": "os.system"}),
            "attribute named '__class__'",
        ),
        (
            lambda m: m["object"]["estimator"]["state"].update(
                {"x_": {"items": {"dtype": "|O", "shape": [1], "values": [{"os": "system"}]}}}
            ),
            "unknown kind 'os'",
        ),
        (
            lambda m: m["object"]["estimator"]["state"].update(
                {"x_": {"array": {"key": "t0", "dtype": "|O", "shape": [1]}}}
            ),
            "unsupported dtype",
        ),
        (
            lambda m: m["object"]["estimator"]["state"].update(
                {"x_": {"array": {"key": "nope", "dtype": "<f8", "shape": [1]}}}
            ),
            "tensor 'nope'",
        ),
        (lambda m: m.update(format="pickle"), "no skae format tag"),
        (
            lambda m: m["object"]["estimator"]["state"].update(
                {"x_": {"array": {"key": "t0", "dtype": "<f4", "shape": [-1, "a"]}}}
            ),
            "Malformed array shape",
        ),
        (
            lambda m: m["object"]["estimator"]["state"].update(
                {"x_": {"items": {"dtype": "<U1", "shape": [5], "values": ["a"]}}}
            ),
            "do not fill the shape",
        ),
    ],
)
def test_planted_names_are_refused(fitted, tmp_path, edit, match):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=match):
        skae.load(path)
    assert not (tmp_path / "x").exists()


def test_damaged_weights_are_refused(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    with zipfile.ZipFile(path) as archive:
        metadata = archive.read("metadata.json")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", metadata)
        archive.writestr("weights.safetensors", pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        skae.load(path)


def test_weights_that_do_not_fit_the_network_are_refused(fitted, tmp_path):
    path = tmp_path / "m.skae"
    fitted["AutoEncoder"].save(path)
    _rewrite(
        path,
        lambda m: m["object"]["estimator"]["params"].update(hidden_layer_sizes={"tuple": [9]}),
    )
    with pytest.raises(ValueError, match="saved weights do not fit the AutoEncoder network"):
        skae.load(path)


# ----------------------------------------------------------------------
# The value encoding itself
# ----------------------------------------------------------------------
_DTYPES = st.sampled_from(
    [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.bool_]
)
_ARRAYS = _DTYPES.flatmap(
    lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    _ARRAYS,
    _ARRAYS.map(np.asfortranarray),
    st.sampled_from([np.float32(1.5), np.int64(-3), np.float64(np.nan)]),
    st.lists(st.text(max_size=3), max_size=3).map(lambda v: np.array(v, dtype=object)),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=3),
    ),
    max_leaves=8,
)


def _same_value(a, b):
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.flags.f_contiguous == b.flags.f_contiguous
        assert a.tobytes() == b.tobytes() or a.dtype == object and a.tolist() == b.tolist()
    elif isinstance(a, np.generic):
        assert type(a) is type(b) and a.tobytes() == b.tobytes()
    elif isinstance(a, (list, tuple, dict)):
        assert type(a) is type(b) and len(a) == len(b)
        items = zip(a.items(), b.items(), strict=True) if isinstance(a, dict) else zip(a, b)
        for u, v in items:
            _same_value(u, v)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b)
    else:
        assert type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None)
@given(_VALUES)
def test_values_round_trip_exactly_through_strict_json(value):
    import safetensors.torch

    writer = _Writer()
    text = json.dumps(writer.encode(value, "value"), allow_nan=False)
    tensors = safetensors.torch.load(safetensors.torch.save(writer.tensors))
    _same_value(value, _Reader(tensors, None, None).decode(json.loads(text)))


# ----------------------------------------------------------------------
# Pickle stays supported, without gradients
# ----------------------------------------------------------------------
def test_pickle_keeps_weights_and_optimizer_state_but_no_gradients():
    Xw = np.random.RandomState(1).rand(64, 300)
    est = AutoEncoder(n_components=8, hidden_layer_sizes=(128,), max_epochs=1, random_state=0)
    est.fit(Xw)
    params = list(est.net_.module_.parameters())
    assert all(p.grad is None for p in params)
    weight_bytes = 4 * sum(p.numel() for p in params)
    # Adam keeps two moments per weight: weights + optimizer state = 3x the
    # weights, each weight stored once and no gradients.
    size = len(pickle.dumps(est))
    assert 2.9 * weight_bytes < size < 3.3 * weight_bytes
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.transform(Xw), est.transform(Xw), strict=True)
    copied = copy.deepcopy(est)
    np.testing.assert_array_equal(copied.transform(Xw), est.transform(Xw), strict=True)
    net = restored.net_
    assert net.module is net.module_ and net.criterion is net.criterion_
    assert net.optimizer_.state_dict()["state"].keys()
    # training goes on exactly as it would have without the pickle round trip
    est.set_params(warm_start=True).fit(Xw)
    restored.set_params(warm_start=True).fit(Xw)
    assert restored.loss_curve_ == est.loss_curve_
    np.testing.assert_array_equal(restored.transform(Xw), est.transform(Xw), strict=True)


def test_saved_file_is_about_the_weights(tmp_path):
    Xw = np.random.RandomState(1).rand(64, 300)
    est = AutoEncoder(n_components=8, hidden_layer_sizes=(128,), max_epochs=1, random_state=0)
    est.fit(Xw)
    weight_bytes = 4 * sum(p.numel() for p in est.net_.module_.parameters())
    est.save(tmp_path / "m.skae")
    # no optimizer state, no gradients: the weights plus a few kilobytes
    assert weight_bytes < os.path.getsize(tmp_path / "m.skae") < 1.05 * weight_bytes


def test_docstring_example_runs():
    failures, tried = doctest.testmod(skae.persistence, optionflags=doctest.ELLIPSIS)[:2]
    assert tried and not failures


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(
        ["AutoEncoder", "SparseAE", "TabularAE", "VAE", "CVAE", "DenoisingAE", "ConvAE"]
    ),
    n_samples=st.integers(3, 30),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 2),
    scale=st.sampled_from([1.0, 5.0]),
)
def test_round_trip_property(tmp_path_factory, name, n_samples, dtype, seed, scale):
    rng = np.random.RandomState(seed)
    data = (scale * rng.rand(n_samples, 16)).astype(dtype)
    labels = np.arange(n_samples) % 2
    est = ESTIMATORS[name]().set_params(random_state=seed, max_epochs=1).fit(data, labels)
    path = tmp_path_factory.mktemp("prop") / "m.skae"
    est.save(path)
    loaded = skae.load(path)
    assert_same(est, loaded)
    assert_same(fitted_state(est), fitted_state(loaded))
    assert_same(est.transform(data), loaded.transform(data))
    assert_same(est.score_samples(data), loaded.score_samples(data))


def test_pandas_output_and_feature_names_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    est = AutoEncoder(n_components=2, **FAST).set_output(transform="pandas").fit(frame)
    est.save(tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert_same(est.feature_names_in_, loaded.feature_names_in_)
    pd.testing.assert_frame_equal(loaded.transform(frame), est.transform(frame))
    assert list(loaded.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]


# ----------------------------------------------------------------------
# Files written by earlier versions keep loading
# ----------------------------------------------------------------------
FORMAT1 = Path(__file__).parent / "data" / "format1"


@pytest.mark.parametrize("path", sorted(FORMAT1.glob("*.skae")), ids=lambda p: p.stem)
def test_format1_files_load_with_identical_outputs(path):
    """Files written by skae 0.1.0 (``tests/data/write_format1_files.py``)."""
    X_check = load_digits().data[60:72] / 16.0
    expected = np.load(FORMAT1 / "expected.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VersionMismatchWarning)
        model = skae.load(path)
    keys = [key for key in expected.files if key.startswith(f"{path.stem}/")]
    assert keys
    # Two changes since 0.1.0 sum in another order: 2-D convolutions run
    # channels-last on the CPU, so their outputs agree to float32 rounding
    # (measured: at most 1.3e-6 relative, 6e-8 absolute); a row's error is
    # one float64 vector norm, so scores agree to float64 rounding (measured:
    # at most 2.2e-16 relative). Everything else is bit for bit.
    convolutional = any(isinstance(m, torch.nn.Conv2d) for m in _torch_modules(model))
    for key in keys:
        method = key.split("/")[1]
        if method == "inverse_transform":
            got = model.inverse_transform(model.transform(X_check))
        else:
            got = getattr(model, method)(X_check)
        tolerance = {"rtol": 1e-5, "atol": 1e-7} if convolutional else None
        if tolerance is None and method in ("score_samples", "decision_function"):
            tolerance = {"rtol": 1e-12, "atol": 0}
        if tolerance is None:
            np.testing.assert_array_equal(got, expected[key], strict=True, err_msg=key)
        else:
            assert got.dtype == expected[key].dtype, key
            np.testing.assert_allclose(got, expected[key], **tolerance, err_msg=key)


def _torch_modules(model):
    """The torch modules inside a loaded model, a Pipeline's steps or a detector's estimator."""
    for est in getattr(model, "steps", [(None, model)]):
        est = est[1]
        est = getattr(est, "estimator_", est)
        net = getattr(est, "net_", None)
        if net is not None:
            yield from net.module_.modules()
