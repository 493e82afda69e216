"""Export a fitted skae model, or a Pipeline ending in one, to ONNX.

The graph holds what inference runs: the fitted network's ``encode``,
``decode`` and reconstruction, the per-sample error or ELBO of
``score_samples`` (the ``post`` of :meth:`~skae._base.BaseAutoEncoder._map`),
and for the outlier detector its standardization and threshold. Its batch
dimension is dynamic. onnx, onnxscript and skl2onnx are imported only here,
inside the functions, so that the core install does not need them (the
optional extra ``skae[onnx]``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings

import numpy as np
import torch
from sklearn.base import OutlierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from torch.torch_version import TorchVersion

from ._base import BaseAutoEncoder, _error_post

__all__ = ["to_onnx"]

# What each graph input is: the data rows, codes (inverse_transform), class labels (CVAE).
_DATA, _CODES, _LABELS = "X", "Z", "y"
# The methods of the autoencoders and of the outlier detector, in the order of the issue.
_AUTOENCODER_METHODS = ("transform", "inverse_transform", "reconstruct", "denoise", "score_samples")
_DETECTOR_METHODS = ("score_samples", "decision_function", "predict")
_EXTRA = "pip install 'skae[onnx]'"


def _require(*names):
    """Import and return the optional packages ``names``, or say which extra holds them."""
    import importlib

    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as error:
            raise ImportError(
                f"Exporting to ONNX needs the package {name!r}, which is part of the optional "
                f"extra skae[onnx] (onnx, onnxscript, skl2onnx, onnxruntime): {_EXTRA}"
            ) from error
    return modules


def to_onnx(estimator, X, *, methods=("transform",), path=None):
    """Export a fitted skae estimator, or a Pipeline ending in one, to ONNX.

    The graph computes what the estimator's methods compute: one graph
    output per method, named after it, from inputs named ``"X"`` (rows of
    features, flat as ``transform`` takes them: images channel-first,
    sequences step by step), ``"Z"`` (codes, for ``inverse_transform``) and
    ``"y"`` (class labels, for a :class:`~skae.CVAE`). The batch dimension
    is dynamic; serving needs onnxruntime only, neither skae nor torch.

    Parameters
    ----------
    estimator : fitted skae estimator or sklearn Pipeline
        An autoencoder of any family, an
        :class:`~skae.AutoEncoderOutlierDetector`, or a Pipeline of
        scikit-learn preprocessing steps (converted by skl2onnx) ending in
        one of them.
    X : array-like of shape (n_samples, n_features)
        Sample input, as the estimator takes it; it fixes the feature count
        and the dtype (float32 or float64) of the graph's inputs.
    methods : sequence of str, default=("transform",)
        The outputs: ``"transform"``, ``"inverse_transform"``,
        ``"reconstruct"``, ``"denoise"`` (denoisers), ``"score_samples"``;
        for the outlier detector ``"score_samples"``,
        ``"decision_function"`` and ``"predict"``. A CVAE's
        ``inverse_transform``, ``reconstruct`` and ``score_samples`` decode
        under the labels given as input ``"y"`` (as with ``y=...``). A
        Pipeline exports the methods a Pipeline has: ``"transform"``,
        ``"score_samples"``, ``"decision_function"`` and ``"predict"``.
    path : str or path-like or None, default=None
        Where to write the model, if anywhere.

    Returns
    -------
    model : onnx.ModelProto
        The exported model.

    Examples
    --------
    >>> import numpy as np, onnxruntime
    >>> from skae import AutoEncoder, to_onnx
    >>> X = np.random.RandomState(0).rand(100, 8).astype(np.float32)
    >>> ae = AutoEncoder(n_components=2, max_epochs=2, random_state=0).fit(X)
    >>> model = to_onnx(ae, X, methods=("transform", "score_samples"))
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> codes, scores = session.run(None, {"X": X[:5]})
    >>> bool(np.allclose(codes, ae.transform(X[:5]), atol=1e-5))
    True
    """
    (onnx,) = _require("onnx")
    methods = _check_methods(methods)
    if isinstance(estimator, Pipeline):
        model = _pipeline_to_onnx(estimator, X, methods)
    else:
        model = _export(estimator, X, methods)
    if path is not None:
        onnx.save_model(model, str(path))
    return model


def _check_methods(methods):
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods or not all(isinstance(m, str) for m in methods):
        raise ValueError(
            f"methods must name one or more methods, e.g. ('transform', 'score_samples'); "
            f"got {methods!r}."
        )
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods={methods!r} names a method twice; name each once.")
    return methods


def _is_detector(estimator) -> bool:
    return isinstance(estimator, OutlierMixin) and isinstance(
        getattr(estimator, "estimator", None), BaseAutoEncoder | type(None)
    )


def _supported(estimator) -> tuple[str, ...]:
    if _is_detector(estimator):
        return _DETECTOR_METHODS
    if isinstance(estimator, BaseAutoEncoder):
        return tuple(m for m in _AUTOENCODER_METHODS if hasattr(estimator, m))
    return ()


def _check_estimator(estimator, methods):
    supported = _supported(estimator)
    if not supported:
        raise TypeError(
            "to_onnx exports skae estimators (an autoencoder, or an AutoEncoderOutlierDetector "
            f"around one) and Pipelines ending in one; got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    inner = estimator.estimator_ if _is_detector(estimator) else estimator
    if getattr(inner, "_prepares_own_input", False):
        raise TypeError(
            f"to_onnx cannot export {type(inner).__name__}: it scales and encodes its columns "
            "(categories included) outside its network, which the export does not hold. "
            "Serve it with skae.save and skae.load instead."
        )
    unknown = [m for m in methods if m not in supported]
    if unknown:
        raise ValueError(
            f"{type(estimator).__name__} has no method {unknown[0]!r} to export; its methods "
            f"are {', '.join(repr(m) for m in supported)}."
        )
    if _is_detector(estimator):
        inner = estimator.estimator_
        if hasattr(inner, "classes_") and estimator.error == "model":
            raise ValueError(
                "An AutoEncoderOutlierDetector around a CVAE scores without labels, marginalising "
                "the class, which the export does not hold; use error='squared' or 'absolute', "
                "or export the CVAE itself (its score_samples takes the labels as input 'y')."
            )


# ----------------------------------------------------------------------
# The graph: the estimator's inference pieces as one torch module
# ----------------------------------------------------------------------
class _Graph(torch.nn.Module):
    """The exported computation: ``forward(*inputs)`` returns one tensor per method."""

    def __init__(self, network, input_names, outputs):
        super().__init__()
        self.network = network  # registered, so that its weights become the graph's
        self.input_names = tuple(input_names)
        self.outputs = list(outputs)

    def forward(self, *inputs):
        named = dict(zip(self.input_names, inputs))
        return tuple(output(named) for output in self.outputs)


def _one_hot(estimator, labels):
    """One-hot rows of ``labels`` over ``classes_`` (all zeros for a label not seen in fit)."""
    classes = torch.as_tensor(
        np.asarray(estimator.classes_), dtype=labels.dtype, device=labels.device
    )
    return (labels.reshape(-1, 1) == classes.reshape(1, -1)).float()


def _network_outputs(estimator, dtype):
    """``{method: f(inputs) -> tensor}`` for an autoencoder, as its methods run ``_map``."""
    module = estimator.net_.module_
    conditional = hasattr(estimator, "classes_")

    def data(named):  # the network input, float32 as _engine.to_tensor makes it
        return named[_DATA].float()

    def labelled(x, named):
        return torch.cat([x, _one_hot(estimator, named[_LABELS])], dim=1)

    def reconstruction(named):
        if conditional:  # reconstruct(X, y): the codes decoded under the labels
            x = data(named)
            return module.decode(labelled(module.encode(x).float(), named)).reshape(x.shape[0], -1)
        return estimator._reconstruction(data(named))

    def transform(named):
        return module.encode(data(named)).float().to(dtype)

    def inverse_transform(named):
        z = named[_CODES].float()
        return module.decode(labelled(z, named) if conditional else z).float().to(dtype)

    def reconstruct(named):
        return reconstruction(named).float().to(dtype)

    if hasattr(estimator, "_elbo_post"):  # variational: the per-sample ELBO

        def score_samples(named):
            x = data(named)
            out = module(labelled(x, named) if conditional else x)
            out = tuple(o.float() for o in out)
            return estimator._elbo_post(x.shape[1])(out, named[_DATA]).double()

    else:  # the negative mean squared error

        def score_samples(named):
            out = reconstruction(named).float()
            return -_error_post("mse")(out, named[_DATA])

    return {
        "transform": transform,
        "inverse_transform": inverse_transform,
        "reconstruct": reconstruct,
        "denoise": reconstruct,
        "score_samples": score_samples,
    }


def _detector_outputs(detector, dtype):
    """``{method: f(inputs) -> tensor}`` for the outlier detector: scaler, scores, threshold."""
    inner = detector.estimator_
    scores = _network_outputs(inner, dtype)
    scaler = getattr(detector, "scaler_", None) if detector.standardize else None
    kind = {"squared": "mse", "absolute": "mae"}.get(detector.error)

    def standardized(named):
        x = named[_DATA]
        if scaler is None:
            return named
        mean = torch.as_tensor(scaler.mean_, dtype=torch.float64, device=x.device)
        scale = torch.as_tensor(scaler.scale_, dtype=torch.float64, device=x.device)
        return {**named, _DATA: ((x.double() - mean) / scale).to(x.dtype)}

    def error_score(named):
        if kind is None:
            return scores["score_samples"](named).double()
        out = scores["reconstruct"](named).float()
        return -_error_post(kind)(out, named[_DATA])

    code_distance = detector.__dict__.get("code_distance_", False)
    if code_distance:
        code_mean = torch.as_tensor(detector.code_mean_, dtype=torch.float64)
        code_precision = torch.as_tensor(detector.code_precision_, dtype=torch.float64)
        weight = detector.residual_dof_ / detector.error_scale_

    def score_samples(named):
        named = standardized(named)
        score = error_score(named)
        if not code_distance:
            return score
        codes = scores["transform"](named).double()
        centred = codes.reshape(codes.shape[0], -1) - code_mean.to(codes.device)
        distance = ((centred @ code_precision.to(codes.device)) * centred).sum(dim=1)
        return score * weight - distance

    def decision_function(named):
        return score_samples(named) - float(detector.offset_)

    def predict(named):
        decision = decision_function(named)
        return torch.where(decision >= 0, 1, -1).to(torch.int64)

    return {
        "score_samples": score_samples,
        "decision_function": decision_function,
        "predict": predict,
    }


def _validated_sample(estimator, X):
    """The sample rows as the network sees them, and their dtype."""
    X = estimator._validate_X(X, reset=False)  # a detector's rows: flat as its scaler sees them
    X = np.asarray(X[:2])
    if X.ndim != 2:
        X = X.reshape(len(X), -1)
    if len(X) == 0:
        raise ValueError("X must hold at least one sample row to export with.")
    return np.concatenate([X, X])[:2] if len(X) == 1 else X  # a batch of 1 would be fixed


def _graph(estimator, X, methods):
    """The torch module computing ``methods``, with its sample inputs, input and output names."""
    _check_estimator(estimator, methods)
    rows = _validated_sample(estimator, X)
    dtype = torch.float64 if rows.dtype == np.float64 else torch.float32
    detector = _is_detector(estimator)
    network = estimator.estimator_ if detector else estimator
    outputs = (_detector_outputs if detector else _network_outputs)(estimator, dtype)
    conditional = hasattr(network, "classes_") and not detector
    if conditional and not np.issubdtype(np.asarray(network.classes_).dtype, np.number):
        raise ValueError(
            f"The exported CVAE takes its labels as numbers, but classes_ holds "
            f"{np.asarray(network.classes_).dtype} labels; fit it on integer labels (e.g. "
            "LabelEncoder().fit_transform(y)) to export it."
        )
    # the sample inputs, on the network's device (the graph itself is for any)
    device = next(network.net_.module_.parameters(), torch.empty(0)).device
    inputs = {}
    if any(m != "inverse_transform" for m in methods):
        inputs[_DATA] = torch.from_numpy(np.ascontiguousarray(rows)).to(device)
    if "inverse_transform" in methods:
        inputs[_CODES] = torch.zeros((len(rows), network.n_components_), dtype=dtype, device=device)
    if conditional and set(methods) - {"transform"}:
        labels = np.asarray(network.classes_)[[0] * len(rows)]
        labels = labels.astype(np.result_type(labels, np.int64))
        inputs[_LABELS] = torch.from_numpy(labels).to(device)
    graph = _Graph(network.net_.module_, inputs, [outputs[m] for m in methods]).eval()
    return graph, inputs


# The oldest torch whose exporter gives graphs that hold for every batch size
# (tested: 2.5-2.7 specialise or refuse the batch dimension of some networks).
EXPORTER_TORCH = "2.8"


def _require_exporter():
    """Refuse, saying what to install, a torch whose ONNX exporter skae cannot rely on."""
    if TorchVersion(torch.__version__) < EXPORTER_TORCH:
        raise ImportError(
            f"Exporting to ONNX needs torch {EXPORTER_TORCH} or newer, whose exporter keeps "
            f"the batch dimension free for every skae network; this is torch "
            f"{torch.__version__}. Upgrade torch to use skae.to_onnx; the rest of skae "
            "works with it."
        )


def _export(estimator, X, methods):
    """The ONNX model of a skae estimator, through torch's exporter."""
    _require("onnx", "onnxscript")
    _require_exporter()
    graph, inputs = _graph(estimator, X, methods)
    batch = torch.export.Dim("batch")
    was_training = graph.network.training
    graph.network.eval()
    try:
        # torch's exporter reports its progress on stdout and warns of its internals
        with (
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            _quiet_logger("torch.onnx"),
            torch.no_grad(),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                tuple(inputs.values()),
                dynamo=True,
                input_names=list(inputs),
                output_names=list(methods),
                dynamic_shapes={"inputs": tuple({0: batch} for _ in inputs)},
                verbose=False,
            )
    except Exception as error:
        raise _export_error(estimator, error) from error
    finally:
        graph.network.train(was_training)
    model = program.model_proto
    model.doc_string = f"skae {type(estimator).__name__}: {', '.join(methods)}"
    return model


@contextlib.contextmanager
def _quiet_logger(name):
    """Silence the logger ``name`` below errors while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _export_error(estimator, error):
    """A ``ValueError`` that names the operation torch could not export, and what to do."""
    message = str(error)
    op = re.search(r"op='([\w.]+)'", message) or re.search(r"target=([\w.]+)", message)
    summary = re.search(r"<class '[\w.]+\.(\w+)'>: ([^\n]+)", message)
    what = f"the operation {op.group(1)}" if op else "an operation"
    reason = (
        f"{summary.group(1)}: {summary.group(2)}"
        if summary
        else f"{type(error).__name__}: {message.strip().splitlines()[0] if message.strip() else ''}"
    )
    return ValueError(
        f"The network of {type(estimator).__name__} could not be exported to ONNX: torch's "
        f"exporter failed on {what} ({reason[:300]}). Replace it in the module with "
        "operations that ONNX has, or keep data-dependent Python control flow out of encode "
        "and decode."
    )


# ----------------------------------------------------------------------
# Pipelines: the sklearn steps by skl2onnx, the skae step by its converter
# ----------------------------------------------------------------------
_PIPELINE_METHODS = ("transform", "score_samples", "decision_function", "predict")


def _pipeline_to_onnx(pipeline, X, methods):
    onnx, skl2onnx = _require("onnx", "skl2onnx")
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
    )

    check_is_fitted(pipeline)
    steps = pipeline.steps
    name, final = steps[-1]
    if not _supported(final):
        raise TypeError(
            f"to_onnx exports a Pipeline ending in a skae estimator; its last step {name!r} "
            f"is {type(final).__name__}."
        )
    allowed = [m for m in _PIPELINE_METHODS if m in _supported(final)]
    unknown = [m for m in methods if m not in allowed]
    if unknown:
        raise ValueError(
            f"A Pipeline ending in {type(final).__name__} has no method {unknown[0]!r} to "
            f"export; its methods are {', '.join(repr(m) for m in allowed)}."
        )
    from skl2onnx._supported_operators import sklearn_operator_name_map

    for step_name, step in steps[:-1]:
        if step in (None, "passthrough"):
            continue
        if type(step) not in sklearn_operator_name_map:
            raise TypeError(
                f"Pipeline step {step_name!r} ({type(step).__name__}) has no ONNX converter in "
                "skl2onnx; leave it out of the exported Pipeline, or register a converter for "
                "it with skl2onnx.update_registered_converter."
            )
    X_in = np.asarray(X)
    if X_in.ndim != 2 or X_in.dtype not in (np.float32, np.float64):
        raise ValueError(
            "X must be a 2-D float32 or float64 array of sample rows to export a Pipeline "
            f"with; got dtype {X_in.dtype} and shape {X_in.shape}."
        )
    if X_in.shape[1] != pipeline.n_features_in_:
        raise ValueError(
            f"X has {X_in.shape[1]} features, but the Pipeline was fitted on "
            f"{pipeline.n_features_in_}."
        )
    sample = X_in[:2]
    for _, step in steps[:-1]:
        if step not in (None, "passthrough"):
            sample = step.transform(sample)
    sample = np.asarray(sample, dtype=X_in.dtype)
    inner = _export(final, sample, methods)
    opset = next(o.version for o in inner.opset_import if o.domain in ("", "ai.onnx"))
    tensor = DoubleTensorType if X_in.dtype == np.float64 else FloatTensorType
    _register_converter(skl2onnx, type(final))
    _PENDING[id(final)] = (methods, inner)
    target_opset = {"": opset, "ai.onnx.ml": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = skl2onnx.convert_sklearn(
                pipeline,
                initial_types=[(_DATA, tensor([None, X_in.shape[1]]))],
                target_opset=target_opset,
            )
        except Exception as error:
            raise _step_error(skl2onnx, steps[:-1], X_in, tensor, target_opset, error) from error
        finally:
            _PENDING.pop(id(final), None)
    # the graph outputs are named after the methods, as for a single estimator
    rename = {output.name: method for output, method in zip(model.graph.output, methods)}
    for node in model.graph.node:
        node.output[:] = [rename.get(name, name) for name in node.output]
    for output in model.graph.output:
        output.name = rename[output.name]
    for node in model.graph.node:  # optional inputs left out, as the exporter wrote them
        node.input[:] = ["" if name == _ABSENT else name for name in node.input]
    kept = [i for i in model.graph.initializer if i.name != _ABSENT]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model.doc_string = f"skae Pipeline ({', '.join(n for n, _ in steps)}): {', '.join(methods)}"
    onnx.checker.check_model(model)
    return model


# The methods and exported graph of the skae step that to_onnx converts now,
# by id: skl2onnx's registration is global, and must not keep a model.
_PENDING: dict = {}


def _default_methods(model):
    """What skl2onnx's converter exports when called directly, as for sklearn's kinds."""
    return ("predict", "score_samples") if _is_detector(model) else ("transform",)


def _register_converter(skl2onnx, cls):
    """Register skae's skl2onnx converter for ``cls``: it embeds the exported network.

    Called directly (``skl2onnx.convert_sklearn`` on a Pipeline ending in a skae
    model), the converter exports the default methods: ``transform``, or a
    detector's ``predict`` and ``score_samples``.
    """
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType

    alias = f"Skae{cls.__name__}"

    def methods_of(model):
        return _PENDING.get(id(model), (_default_methods(model), None))[0]

    def parser(scope, model, inputs, custom_parsers=None):
        operator = scope.declare_local_operator(alias, model)
        operator.inputs = list(inputs)
        tensor = type(inputs[0].type)
        for method in methods_of(model):
            kind = Int64TensorType if method == "predict" else tensor
            operator.outputs.append(scope.declare_local_variable(method, kind()))
        return operator.outputs

    def shape_calculator(operator):
        model, n = operator.raw_operator, operator.inputs[0].get_first_dimension()
        tensor = type(operator.inputs[0].type)
        for variable, method in zip(operator.outputs, methods_of(model)):
            if method == "transform":
                variable.type = tensor([n, model.n_components_])
            elif method == "predict":
                variable.type = Int64TensorType([n])
            else:
                variable.type = DoubleTensorType([n])

    def converter(scope, operator, container):
        import onnx

        model = operator.raw_operator
        methods, inner = _PENDING.get(id(model), (methods_of(model), None))
        if inner is None:
            dtype = np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else None
            sample = np.zeros((2, model.n_features_in_), dtype=dtype or np.float32)
            inner = _export(model, sample, methods)
        _embed(onnx, inner, scope, operator, container)

    skl2onnx.update_registered_converter(
        cls, alias, shape_calculator, converter, parser=parser, overwrite=True
    )


def _step_error(skl2onnx, steps, X, tensor, target_opset, error):
    """A ``TypeError`` naming the first step that skl2onnx fails to convert on its own."""
    for name, step in steps:
        if step in (None, "passthrough"):
            continue
        try:
            skl2onnx.convert_sklearn(
                step,
                initial_types=[(_DATA, tensor([None, X.shape[1]]))],
                target_opset=target_opset,
            )
        except Exception as step_error:
            return TypeError(
                f"Pipeline step {name!r} ({type(step).__name__}) could not be converted to "
                f"ONNX by skl2onnx: {step_error}"
            )
        X = np.asarray(step.transform(X[:2]))
    return error


# The name standing for an optional input left out ("") while skl2onnx orders the nodes.
_ABSENT = "skae_absent_input"


def _embed(onnx, inner, scope, operator, container):
    """Copy the nodes and weights of the exported model ``inner`` into skl2onnx's graph."""
    from onnx import helper, numpy_helper

    graph = inner.graph
    names = {i.name: v.full_name for i, v in zip(graph.input, operator.inputs)}
    names.update({o.name: v.full_name for o, v in zip(graph.output, operator.outputs)})

    def renamed(name):
        if name == "":  # an optional input left out: a placeholder skl2onnx can order
            if _ABSENT not in names.values():
                names[""] = _ABSENT
                container.add_initializer(_ABSENT, onnx.TensorProto.FLOAT, [0], [])
            return _ABSENT
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"skae_{name}")
        return names[name]

    for initializer in graph.initializer:
        tensor = numpy_helper.from_array(numpy_helper.to_array(initializer))  # raw data
        container.add_initializer(renamed(initializer.name), tensor.data_type, None, tensor)
    for node in graph.node:
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            raise ValueError(
                f"The exported network holds a {node.op_type} node with a subgraph, which "
                "cannot be merged into a Pipeline's graph; export the skae model on its own."
            )
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(
            node.op_type,
            [renamed(name) for name in node.input],
            [renamed(name) for name in node.output],
            op_domain=node.domain,
            name=scope.get_unique_operator_name(node.op_type),
            **attributes,
        )
