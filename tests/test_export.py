"""skae.to_onnx: the exported graph computes what skae computes, checked by onnxruntime."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, StandardScaler
from torch.torch_version import TorchVersion

import skae
from skae import to_onnx
from skae.export import EXPORTER_TORCH

if TorchVersion(torch.__version__) < EXPORTER_TORCH:
    pytest.skip(f"skae.to_onnx needs torch {EXPORTER_TORCH} or newer", allow_module_level=True)
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

TOL = {"rtol": 1e-5, "atol": 1e-5}
RNG = np.random.RandomState(0)
X = RNG.rand(80, 16).astype(np.float32)
Y = RNG.randint(0, 3, 80)
TRAIN, TEST = slice(0, 60), slice(60, 80)  # the graphs are checked on held-out rows
AE_METHODS = ("transform", "inverse_transform", "reconstruct", "score_samples")
TINY = {"max_epochs": 2, "random_state": 0}


class TinyModule(torch.nn.Module):
    """A user's module with encode and decode."""

    def __init__(self, n_features):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(n_features, 6), torch.nn.Tanh())
        self.code = torch.nn.Linear(6, 3)
        self.decoder = torch.nn.Linear(3, n_features)

    def encode(self, x):
        return self.code(self.encoder(x))

    def decode(self, z):
        return torch.sigmoid(self.decoder(z))


class SvdModule(TinyModule):
    """A module using an operation ONNX does not have (a singular value decomposition)."""

    def encode(self, x):
        return super().encode(x) + torch.linalg.svdvals(self.code.weight).sum()


FAMILIES = {
    "AutoEncoder": lambda: skae.AutoEncoder(n_components=3, hidden_layer_sizes=(8,), **TINY),
    "SparseAE": lambda: skae.SparseAE(n_components=3, hidden_layer_sizes=(8,), **TINY),
    "DenoisingAE": lambda: skae.DenoisingAE(n_components=3, hidden_layer_sizes=(8,), **TINY),
    "ConvAE": lambda: skae.ConvAE(image_shape=(4, 4), channels=(4, 2), **TINY),
    "ConvDenoisingAE": lambda: skae.ConvDenoisingAE(image_shape=(4, 4), channels=(4,), **TINY),
    "SeqAE-lstm": lambda: skae.SeqAE(
        sequence_shape=(8, 2), n_components=3, hidden_size=4, cell="lstm", **TINY
    ),
    "SeqAE-gru": lambda: skae.SeqAE(
        sequence_shape=(8, 2), n_components=3, hidden_size=4, cell="gru", **TINY
    ),
    "ModuleAE": lambda: skae.ModuleAE(module=TinyModule, **TINY),
    "VAE": lambda: skae.VAE(n_components=3, hidden_layer_sizes=(8,), **TINY),
    "CVAE": lambda: skae.CVAE(n_components=3, hidden_layer_sizes=(8,), **TINY),
}


def fitted(name):
    estimator = FAMILIES[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        return estimator.fit(X[TRAIN], Y[TRAIN]) if name == "CVAE" else estimator.fit(X[TRAIN])


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def expected(estimator, method, rows, labels=None):
    """skae's own output of ``method`` on ``rows`` (codes for inverse_transform)."""
    function = getattr(estimator, method)
    if labels is not None and method != "transform":
        return function(rows, y=labels)
    return function(rows)


def feeds_for(sess, estimator, rows, labels):
    names = {i.name for i in sess.get_inputs()}
    feeds = {"X": rows} if "X" in names else {}
    if "Z" in names:
        feeds["Z"] = estimator.transform(rows)
    if "y" in names:
        feeds["y"] = labels.astype(np.int64)
    return feeds


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_and_method_matches_skae_for_one_row_and_many(name):
    estimator = fitted(name)
    methods = AE_METHODS + (("denoise",) if hasattr(estimator, "denoise") else ())
    sess = session(to_onnx(estimator, X[TRAIN], methods=methods))
    assert [o.name for o in sess.get_outputs()] == list(methods)
    labels = Y[TEST] if name == "CVAE" else None
    for stop in (61, 80):  # one held-out row, and all of them
        rows = X[60:stop]
        lab = None if labels is None else labels[: stop - 60]
        outputs = sess.run(None, feeds_for(sess, estimator, rows, lab))
        for method, got in zip(methods, outputs):
            source = estimator.transform(rows) if method == "inverse_transform" else rows
            want = expected(estimator, method, source, lab)
            assert got.shape == want.shape and got.dtype == want.dtype, method
            np.testing.assert_allclose(got, want, **TOL, err_msg=f"{name}.{method}")
    if name == "CVAE":  # a label not seen in fit decodes under an all-zero one-hot row
        feeds = feeds_for(sess, estimator, X[TEST], np.full(20, 99))
        got = sess.run(["inverse_transform"], feeds)[0]
        codes = torch.from_numpy(feeds["Z"])
        with torch.no_grad():
            want = estimator.net_.module_.decode(torch.cat([codes, torch.zeros(20, 3)], 1))
        np.testing.assert_allclose(got, want.numpy(), **TOL)


@pytest.mark.slow
def test_dense_transform_and_scores_match_in_float32_and_float64():
    ae = skae.AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X[TRAIN])
    for dtype in (np.float32, np.float64):
        rows = X[TEST].astype(dtype)
        codes, scores = session(to_onnx(ae, rows, methods=("transform", "score_samples"))).run(
            None, {"X": rows}
        )
        assert codes.dtype == dtype and scores.dtype == np.float64
        np.testing.assert_allclose(codes, ae.transform(rows), **TOL)
        np.testing.assert_allclose(scores, ae.score_samples(rows), **TOL)


@pytest.mark.slow
@pytest.mark.parametrize(
    "inner, error",
    [("AutoEncoder", "squared"), ("VAE", "model"), ("ConvAE", "absolute")],
)
def test_detector_scores_decisions_and_predictions_match(inner, error):
    detector = skae.AutoEncoderOutlierDetector(
        FAMILIES[inner](), error=error, contamination=0.2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X[TRAIN])
    methods = ("score_samples", "decision_function", "predict")
    sess = session(to_onnx(detector, X[TRAIN], methods=methods))
    rows = np.vstack([X[TEST], 3 * X[TEST][:5]])  # a few outliers too
    scores, decisions, labels = sess.run(None, {"X": rows})
    np.testing.assert_allclose(scores, detector.score_samples(rows), **TOL)
    np.testing.assert_allclose(decisions, detector.decision_function(rows), **TOL)
    np.testing.assert_array_equal(labels, detector.predict(rows))
    assert set(labels) == {-1, 1}


@pytest.mark.slow
def test_a_pipeline_is_one_file_and_matches_the_pipeline():
    pipe = make_pipeline(StandardScaler(), PCA(8), MinMaxScaler(), FAMILIES["AutoEncoder"]())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X[TRAIN])
    sess = session(to_onnx(pipe, X[TRAIN], methods=("transform", "score_samples")))
    assert [i.name for i in sess.get_inputs()] == ["X"]
    codes, scores = sess.run(None, {"X": X[TEST]})
    np.testing.assert_allclose(codes, pipe.transform(X[TEST]), **TOL)
    np.testing.assert_allclose(scores, pipe.score_samples(X[TEST]), **TOL)
    # the converter skae registered with skl2onnx keeps no model: called directly on
    # another Pipeline it converts that one's skae step (its transform)
    import skl2onnx
    from skl2onnx.common.data_types import FloatTensorType

    other = make_pipeline(MinMaxScaler(), skae.AutoEncoder(n_components=2, **TINY))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other.fit(X[TRAIN])
        model = skl2onnx.convert_sklearn(
            other, initial_types=[("X", FloatTensorType([None, 16]))], target_opset=20
        )
    (codes,) = session(model).run(None, {"X": X[TEST]})
    np.testing.assert_allclose(codes, other.transform(X[TEST]), **TOL)


@pytest.mark.slow
def test_a_pipeline_ending_in_a_detector_with_recurrent_layers():
    # the LSTM node leaves an optional input out, which the merged graph keeps
    detector = skae.AutoEncoderOutlierDetector(FAMILIES["SeqAE-lstm"](), random_state=0)
    pipe = make_pipeline(MinMaxScaler(), detector)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X[TRAIN])
    sess = session(to_onnx(pipe, X[TRAIN], methods=("decision_function", "predict")))
    decisions, labels = sess.run(None, {"X": X[TEST]})
    np.testing.assert_allclose(decisions, pipe.decision_function(X[TEST]), **TOL)
    np.testing.assert_array_equal(labels, pipe.predict(X[TEST]))


@pytest.mark.slow
def test_the_file_serves_without_skae_or_torch(tmp_path):
    ae = fitted("ConvAE")
    path = tmp_path / "model.onnx"
    model = to_onnx(ae, X[TRAIN], methods=("transform", "reconstruct"), path=path)
    assert onnx.load(str(path)) == model
    np.save(tmp_path / "rows.npy", X[TEST])
    script = (
        "import sys, numpy as np, onnxruntime as ort\n"
        f"s = ort.InferenceSession({str(path)!r}, providers=['CPUExecutionProvider'])\n"
        f"codes, rec = s.run(None, {{'X': np.load({str(tmp_path / 'rows.npy')!r})}})\n"
        f"np.save({str(tmp_path / 'codes.npy')!r}, codes)\n"
        "assert 'torch' not in sys.modules and 'skae' not in sys.modules, 'imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose(np.load(tmp_path / "codes.npy"), ae.transform(X[TEST]), **TOL)


@pytest.mark.slow
def test_an_operation_onnx_lacks_is_named():
    ae = skae.ModuleAE(module=SvdModule, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae.fit(X[TRAIN])
    with pytest.raises(ValueError, match=r"ModuleAE could not be exported.*aten\._linalg_svd"):
        to_onnx(ae, X[TRAIN])


# ----------------------------------------------------------------------
# Bad input: refused before anything is exported
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def dense():
    ae = skae.AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ae.fit(X[TRAIN])


def test_an_unfitted_model_is_refused():
    with pytest.raises(NotFittedError):
        to_onnx(skae.AutoEncoder(), X)
    with pytest.raises(NotFittedError):
        to_onnx(make_pipeline(StandardScaler(), skae.AutoEncoder()), X)


def test_a_wrong_feature_count_is_refused(dense):
    with pytest.raises(ValueError, match="X has 5 features.*16"):
        to_onnx(dense, X[:, :5])
    pipe = make_pipeline(StandardScaler(), skae.AutoEncoder())
    pipe.steps[0][1].fit(X)
    pipe.steps[1] = ("autoencoder", dense)
    with pytest.raises(ValueError, match="X has 5 features.*fitted on 16"):
        to_onnx(pipe, X[:, :5])


@pytest.mark.parametrize(
    "methods, match",
    [
        (("denoise",), "AutoEncoder has no method 'denoise'.*'transform'"),
        (("predict",), "no method 'predict'"),
        (("transform", "transform"), "names a method twice"),
        ((), "one or more methods"),
    ],
)
def test_a_method_the_estimator_lacks_is_refused(dense, methods, match):
    with pytest.raises(ValueError, match=match):
        to_onnx(dense, X, methods=methods)


def test_a_detector_method_it_lacks_is_refused():
    detector = skae.AutoEncoderOutlierDetector(skae.AutoEncoder(max_epochs=1), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X[TRAIN])
    with pytest.raises(ValueError, match="no method 'transform'.*'decision_function'"):
        to_onnx(detector, X, methods=("transform",))


def test_a_tabular_autoencoder_is_refused_not_exported_wrong():
    # its scaling and one-hot encoding live outside the network
    rng = np.random.RandomState(0)
    table = pd.DataFrame({"size": rng.rand(40), "kind": pd.Categorical(rng.choice(["a", "b"], 40))})
    tabular = skae.TabularAE(2, max_epochs=1, random_state=0).fit(table)
    with pytest.raises(TypeError, match="cannot export TabularAE"):
        to_onnx(tabular, table)
    detector = skae.AutoEncoderOutlierDetector(skae.TabularAE(2, max_epochs=1), random_state=0)
    with pytest.raises(TypeError, match="cannot export TabularAE"):
        to_onnx(detector.fit(table), table, methods=("score_samples",))


def test_estimators_other_than_skae_and_unsupported_steps_are_named(dense):
    with pytest.raises(TypeError, match="got StandardScaler"):
        to_onnx(StandardScaler().fit(X), X)
    pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(), dense)
    pipe.steps[0][1].fit(X)
    pipe.steps[1][1].fit(X)
    with pytest.raises(TypeError, match="step 'functiontransformer'.*could not be converted"):
        to_onnx(pipe, X, methods=("transform",))
    pipe = make_pipeline(StandardScaler().fit(X), dense)
    with pytest.raises(
        ValueError, match="Pipeline ending in AutoEncoder has no method 'reconstruct'"
    ):
        to_onnx(pipe, X, methods=("reconstruct",))


def test_a_cvae_with_text_labels_is_refused():
    cvae = skae.CVAE(n_components=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cvae.fit(X[TRAIN], np.array(["a", "b", "c"])[Y[TRAIN]])
    with pytest.raises(ValueError, match="labels as numbers.*LabelEncoder"):
        to_onnx(cvae, X, methods=("reconstruct",))


def test_a_missing_extra_is_named(monkeypatch, dense):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"skae\[onnx\]"):
        to_onnx(dense, X)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_on_cuda_exports_a_graph_that_runs_on_the_cpu():
    detector = skae.AutoEncoderOutlierDetector(
        skae.ConvAE(image_shape=(4, 4), channels=(4,), device="cuda", **TINY), random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector.fit(X[TRAIN])
    sess = session(to_onnx(detector, X[TRAIN], methods=("score_samples", "predict")))
    scores, labels = sess.run(None, {"X": X[TEST]})
    # the GPU's kernels round otherwise than the CPU's
    np.testing.assert_allclose(scores, detector.score_samples(X[TEST]), rtol=1e-4, atol=1e-4)
    assert next(detector.estimator_.net_.module_.parameters()).device.type == "cuda"


@pytest.mark.slow
def test_the_docstring_example_runs():
    import doctest

    import skae.export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        failures, tried = doctest.testmod(skae.export)[:2]
    assert tried > 0 and failures == 0


def test_exported_scores_take_any_number_of_rows(dense):
    """The fast loop's guard on the symbolic batch: one row and many through one graph."""
    sess = session(to_onnx(dense, X[TRAIN], methods=("score_samples",)))
    for stop in (61, 64):
        rows = X[60:stop]
        (got,) = sess.run(None, feeds_for(sess, dense, rows, None))
        np.testing.assert_allclose(got, dense.score_samples(rows), **TOL)
