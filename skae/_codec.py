"""The skae file codec: estimators to one zip of JSON and safetensors, and back.

The bottom of :mod:`skae.persistence`, which is its public face. It knows no
estimator: the classes a file may name are those registered here with
:func:`register` (each skae estimator module registers its own, and this
module registers the scikit-learn steps), and an object describes itself
through its constructor parameters, its attributes and this small protocol,
each part optional, looked up on the object:

``_get_net_state()`` and ``_restore_net(module_state, criterion_state, history, *, saved_device, device)``
    For an object holding a fitted network as ``net_``: the first returns
    ``{"device", "module", "criterion", "history"}`` (the device, the
    module's and the criterion's ``state_dict`` and the skorch history); the
    second rebuilds ``net_`` on a loaded object whose parameters and other
    attributes are set, and copies the saved state in.
``_user_code_params``
    Constructor parameters holding the user's own network code: stored as a
    placeholder naming its type, and passed again to :func:`load` as
    ``modules``.
``_unsaved_params``
    Constructor parameters holding other code (callbacks) or naming a place
    on disk: stored as ``None``, with a warning when set; a file that sets
    one is refused. Classes that cannot carry the attribute (scikit-learn's)
    name them in :func:`register` instead (``Pipeline``'s ``memory``).
``_validate_params()`` and ``_check_loaded_params()``
    Run on every loaded object, as ``fit`` would run them: scikit-learn's
    parameter constraints, then the class's own checks that need no data;
    a value they refuse makes the file invalid.
``_param_snapshots``
    Fitted attributes holding a dict copy of the constructor parameters,
    stored under the same rules as the parameters.

Loading looks every class and optimizer up by name in the allow-lists of
this module, and runs no code from the file. It is bounded by the file: the
metadata may hold at most ``MAX_METADATA_BYTES`` once inflated, the weights
are stored uncompressed, every tensor they hold must be used, and a network
is built only once its shapes are known to match the saved weights.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
import zipfile
import zlib

import numpy as np
import safetensors
import safetensors.torch
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from skorch.history import History

from ._diagnostics import warn
from ._version import __version__
from .noise import NoiseRecipe

__all__ = ["FORMAT_VERSION", "VersionMismatchWarning", "load", "register", "save", "warn"]

FORMAT_VERSION = 1
_METADATA = "metadata.json"
_WEIGHTS = "weights.safetensors"
# The inflated metadata (parameters, fitted attributes, history) may not be
# larger than this; the weights are stored, so they are bounded by the file.
MAX_METADATA_BYTES = 64 * 2**20
# Values may nest this deep (a Pipeline inside a detector is a few levels).
MAX_DEPTH = 64
# A string array may be declared this many characters wider than its longest value.
_STRING_SLACK = 256

# The only classes a file may name, filled by register(). A name missing
# here is refused.
ESTIMATORS: dict[str, type] = {}
_ESTIMATOR_NAMES: dict[type, str] = {}
# Per class: constructor parameters that name a place on disk or code,
# which a file never sets (see register's ``unsaved``).
_UNSAVED: dict[type, tuple] = {}
# Per class: a check of the constructed object that fit would make (no data).
_CHECKS: dict[type, object] = {}


def register(name: str, cls: type, *, unsaved=(), check=None) -> type:
    """Allow instances of ``cls`` in skae files, named ``name`` there.

    Each skae estimator module registers its public classes with one call
    at its end, ``_codec.register("skae.AutoEncoder", AutoEncoder)``. A
    registered class is stored through its constructor parameters and its
    attributes, and rebuilt on load by calling ``cls(**params)``; see the
    module docstring for the optional hooks. Returns ``cls``.

    ``unsaved`` names constructor parameters that point outside the file (a
    directory, code) for a class that cannot carry ``_unsaved_params``:
    ``save`` stores them as ``None`` with a warning, and ``load`` refuses a
    file that sets them. ``check(obj)`` is run on every loaded instance,
    after its parameter constraints, and raises what ``fit`` would.

    Raises
    ------
    ValueError
        If ``name`` is registered for another class, or ``cls`` under
        another name: a file's names must keep one meaning.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register needs a class, got {cls!r}.")
    known = ESTIMATORS.get(name)
    if known is not None and known is not cls:
        raise ValueError(f"{name!r} is already registered for {known.__qualname__}.")
    if _ESTIMATOR_NAMES.get(cls, name) != name:
        raise ValueError(f"{cls.__qualname__} is already registered as {_ESTIMATOR_NAMES[cls]!r}.")
    ESTIMATORS[name] = cls
    _ESTIMATOR_NAMES[cls] = name
    _UNSAVED[cls] = tuple(unsaved) + tuple(getattr(cls, "_unsaved_params", ()))
    if check is not None:
        _CHECKS[cls] = check
    return cls


def _check_pipeline(pipe):
    pipe._validate_steps()


# scikit-learn steps whose fitted state is plain arrays and numbers. A
# Pipeline's memory names a directory whose pickles fit would read: never kept.
register("sklearn.pipeline.Pipeline", Pipeline, unsaved=("memory",), check=_check_pipeline)
register("sklearn.preprocessing.StandardScaler", StandardScaler)
register("sklearn.preprocessing.MinMaxScaler", MinMaxScaler)
register("sklearn.preprocessing.MaxAbsScaler", MaxAbsScaler)
register("sklearn.decomposition.PCA", PCA)

OPTIMIZERS = {
    cls.__name__: cls
    for cls in (
        torch.optim.Adadelta,
        torch.optim.Adagrad,
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.Adamax,
        torch.optim.ASGD,
        torch.optim.LBFGS,
        torch.optim.NAdam,
        torch.optim.RAdam,
        torch.optim.RMSprop,
        torch.optim.Rprop,
        torch.optim.SGD,
    )
}
_OPTIMIZER_NAMES = {cls: name for name, cls in OPTIMIZERS.items()}
# Array dtypes kept as tensors in the safetensors file.
_TENSOR_KINDS = "biuf"


class VersionMismatchWarning(UserWarning):
    """A file was written by another skae or scikit-learn version than this one."""


def _short_version(version: str) -> tuple:
    parts = version.split(".")[:2]
    return tuple(int(p) if p.isdigit() else p for p in parts)


def _versions() -> dict:
    return {
        "skae": __version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


# ----------------------------------------------------------------------
# Encoding: Python values -> JSON values plus tensors
# ----------------------------------------------------------------------
class _Writer:
    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}

    def tensor(self, value: torch.Tensor) -> str:
        key = f"t{len(self.tensors)}"
        # a private contiguous copy: safetensors refuses views and shared storage
        self.tensors[key] = value.detach().to("cpu", copy=True).contiguous()
        return key

    def encode(self, value, where: str):
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, np.generic):
            return self._scalar(value, where)
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, History):
            return {"history": [self.encode(row, f"{where}[{i}]") for i, row in enumerate(value)]}
        if type(value) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is dict:
            return {
                "dict": [
                    [self.encode(k, f"{where} key"), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if type(value) is NoiseRecipe:
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return {"noise_recipe": self.encode(fields, where)}
        if type(value) is np.random.RandomState:
            return {"random_state": self.encode(value.get_state(legacy=True), where)}
        if isinstance(value, type) and value in _OPTIMIZER_NAMES:
            return {"optimizer": _OPTIMIZER_NAMES[value]}
        if type(value) in _ESTIMATOR_NAMES:
            return {"estimator": self._estimator(value, where)}
        raise TypeError(
            f"{where} = {value!r} ({type(value).__name__}) cannot be stored in a skae file, "
            "which holds only numbers, strings, arrays, RandomState instances, the skae "
            "estimators, the "
            f"scikit-learn steps {sorted(n for n in ESTIMATORS if n.startswith('sklearn'))} "
            f"and the torch optimizers {sorted(OPTIMIZERS)}. Replace it with one of these, or "
            "keep the model with pickle/joblib (or skops) if you only load files you trust."
        )

    def _scalar(self, value, where):
        if value.dtype.kind not in _TENSOR_KINDS:
            raise TypeError(f"{where} is a numpy scalar of dtype {value.dtype}, not storable.")
        return {"scalar": {"dtype": value.dtype.str, "value": self.encode(value.item(), where)}}

    def _array(self, value, where):
        shape = list(value.shape)
        if value.dtype.kind in _TENSOR_KINDS:
            data = np.ascontiguousarray(value)
            if data.dtype.byteorder == ">":
                data = data.astype(data.dtype.newbyteorder("="))
            order = "F" if value.flags.f_contiguous and not value.flags.c_contiguous else "C"
            key = self.tensor(torch.from_numpy(data.reshape(-1).copy()))
            return {"array": {"key": key, "dtype": value.dtype.str, "shape": shape, "order": order}}
        if value.dtype.kind in "UO":
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value.ravel().tolist())]
            return {"items": {"dtype": value.dtype.str, "shape": shape, "values": items}}
        raise TypeError(f"{where} is an array of dtype {value.dtype}, which is not storable.")

    def _estimator(self, est, where):
        params = est.get_params(deep=False)
        snapshots = getattr(est, "_param_snapshots", ())
        state = {}
        for name, value in vars(est).items():
            if name in params:
                continue
            at = f"{where}.{name}" if where else name
            if name == "net_" and hasattr(est, "_get_net_state"):
                state[name] = self._net(est._get_net_state())
            elif name in snapshots and type(value) is dict:
                snapshot = self._params(est, value, at, warn_unsaved=False)
                state[name] = {"dict": [[key, v] for key, v in snapshot.items()]}
            else:
                state[name] = self.encode(value, at)
        return {
            "class": _ESTIMATOR_NAMES[type(est)],
            "params": self._params(est, params, where, warn_unsaved=True),
            "state": state,
        }

    def _params(self, est, params, where, *, warn_unsaved):
        """Encode constructor parameters: code (modules, callbacks) becomes data."""
        user_code = getattr(est, "_user_code_params", ())
        unsaved = _UNSAVED.get(type(est), ())
        encoded = {}
        for name, value in params.items():
            at = f"{where}.{name}" if where else name
            if name in user_code and value is not None:
                if isinstance(value, torch.nn.Module):
                    described = f"<a {type(value).__qualname__} instance>"
                else:
                    described = getattr(value, "__qualname__", None) or _preview(value)
                encoded[name] = {"user_module": {"parameter": name, "type": described}}
            elif name in unsaved and _is_set(value):
                if warn_unsaved:
                    warn(
                        f"{at} names code or a place on disk, which a skae file "
                        f"does not keep; the loaded model has {name}=None."
                    )
                encoded[name] = None
            else:
                encoded[name] = self.encode(value, at)
        return encoded

    def _net(self, state):
        # The network itself is rebuilt from the parameters on load: keep its
        # weights, the criterion's buffers, the history and the device.
        return {
            "net": {
                "device": state["device"],
                "module": {k: self.tensor(v) for k, v in state["module"].items()},
                "criterion": {k: self.tensor(v) for k, v in state["criterion"].items()},
                "history": self.encode(_epochs_only(state["history"]), "net_.history"),
            }
        }


def _is_set(value) -> bool:
    """Whether an unsaved parameter holds something: not None and not an empty list."""
    return value is not None and not (type(value) in (list, tuple) and not value)


def _epochs_only(history):
    """The history without its per-batch records, which grow with the data.

    They serve skorch within an epoch only; the per-epoch entries (losses,
    durations, best-epoch flags) are kept whole.
    """
    return History({**row, "batches": []} if "batches" in row else row for row in history)


# ----------------------------------------------------------------------
# Decoding: JSON values plus tensors -> Python values
# ----------------------------------------------------------------------
class _Reader:
    def __init__(self, tensors, modules, device):
        self.tensors = tensors
        self.modules = dict(modules or {})
        self.device = device
        self.used_modules = set()
        self.used_tensors = set()
        self.depth = 0

    def tensor(self, key):
        if not isinstance(key, str) or key not in self.tensors:
            raise ValueError(
                f"The file refers to a tensor {_preview(key)} that its weights do not hold."
            )
        self.used_tensors.add(key)
        return self.tensors[key]

    def decode(self, value):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ValueError(
                    f"The file's values nest more than {MAX_DEPTH} levels deep; a skae file "
                    "never does. It is damaged or was not written by skae."
                )
            if isinstance(value, list):
                return [self.decode(v) for v in value]
            if not isinstance(value, dict) or len(value) != 1:
                raise ValueError(f"Malformed value in the file: {_preview(value)}.")
            ((tag, payload),) = value.items()
            decoder = getattr(self, f"_decode_{tag}", None) if tag.isidentifier() else None
            if decoder is None:
                raise ValueError(
                    f"The file holds a value of unknown kind {_preview(tag)}; a skae file stores "
                    "only numbers, strings, arrays and allow-listed classes. It is damaged, was "
                    "written by another program, or was written by a newer skae."
                )
            return decoder(payload)
        finally:
            self.depth -= 1

    def _decode_float(self, payload):
        if payload not in ("nan", "inf", "-inf"):
            raise ValueError(f"Malformed float {_preview(payload)} in the file.")
        return float(payload)

    def _decode_tuple(self, payload):
        return tuple(self.decode(_expect(payload, list, "tuple")))

    def _decode_dict(self, payload):
        out = {}
        for item in _expect(payload, list, "dict"):
            key, item_value = _expect(item, list, "dict item")
            out[self.decode(key)] = self.decode(item_value)
        return out

    def _decode_history(self, payload):
        rows = self.decode(_expect(payload, list, "history"))
        for row in rows:
            _expect(row, dict, "history epoch")
        return History(rows)

    def _decode_scalar(self, payload):
        dtype = _dtype(_expect(payload, dict, "scalar").get("dtype"))
        return dtype.type(self.decode(payload.get("value")))

    def _decode_array(self, payload):
        payload = _expect(payload, dict, "array")
        dtype = _dtype(payload.get("dtype"))
        shape = _shape(payload.get("shape"))
        flat = self.tensor(payload.get("key")).numpy()
        if flat.dtype != dtype.newbyteorder("=") or flat.size != math.prod(shape):
            raise ValueError(
                f"Array {payload.get('key')!r} has dtype {flat.dtype} and {flat.size} values "
                f"in the weights, but the metadata says {dtype} of shape {shape}."
            )
        order = "F" if payload.get("order") == "F" else "C"
        return np.array(flat.reshape(shape), dtype=dtype, order=order)

    def _decode_items(self, payload):
        payload = _expect(payload, dict, "items")
        dtype = _dtype(payload.get("dtype"), kinds="UO")
        values = [self.decode(v) for v in _expect(payload.get("values"), list, "items")]
        if dtype.kind == "U":
            longest = max((len(v) for v in values if isinstance(v, str)), default=0)
            if dtype.itemsize // 4 > longest + _STRING_SLACK:
                raise ValueError(
                    f"The file declares strings of {dtype.itemsize // 4} characters ({dtype.str}) "
                    f"for values of at most {longest}; it is damaged or was not written by skae."
                )
        out = np.empty(len(values), dtype=dtype)
        out[:] = values
        shape = _shape(payload.get("shape"))
        if math.prod(shape) != len(values):
            raise ValueError(f"{len(values)} values in the file do not fill the shape {shape}.")
        return out.reshape(shape)

    def _decode_noise_recipe(self, payload):
        fields = self.decode(payload)
        allowed = {f.name for f in dataclasses.fields(NoiseRecipe)}
        if not isinstance(fields, dict) or not set(fields) <= allowed:
            raise ValueError(f"Malformed noise recipe {_preview(payload)} in the file.")
        return NoiseRecipe(**fields)

    def _decode_random_state(self, payload):
        state = self.decode(payload)
        generator = np.random.RandomState()
        try:
            generator.set_state(state)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Malformed random state in the file: {exc}.") from None
        return generator

    def _decode_optimizer(self, payload):
        if payload not in OPTIMIZERS:
            raise ValueError(
                f"The file names the optimizer {_preview(payload)}, which is not one of the "
                f"torch optimizers a skae file may name: {sorted(OPTIMIZERS)}."
            )
        return OPTIMIZERS[payload]

    def _decode_user_module(self, payload):
        payload = _expect(payload, dict, "user_module")
        name, described = payload.get("parameter"), payload.get("type")
        if name not in self.modules:
            raise ValueError(
                f"This ModuleAE was saved with {name}={described}, the user's own network "
                "code, which a skae file never holds. Pass it again when loading: "
                f"skae.load(path, modules={{{name!r}: {described}}})."
            )
        self.used_modules.add(name)
        return self.modules[name]

    def _decode_net(self, payload):
        raise ValueError("A network may appear only as the net_ attribute of an estimator.")

    def _decode_estimator(self, payload):
        payload = _expect(payload, dict, "estimator")
        name = payload.get("class")
        if name not in ESTIMATORS:
            raise ValueError(
                f"The file names the class {_preview(name)}, which is not one a skae file may "
                f"name: {sorted(ESTIMATORS)}. Nothing was imported or run."
            )
        cls = ESTIMATORS[name]
        unsaved = _UNSAVED.get(cls, ())
        user_code = getattr(cls, "_user_code_params", ())
        params = {}
        for key, value in _expect(payload.get("params"), dict, "params").items():
            if key in user_code and value is not None and not _is_placeholder(value):
                raise ValueError(
                    f"The file sets {name}'s {key} to {_preview(value)}; a skae file holds the "
                    "user's network code only as a placeholder, passed again to load as modules=."
                )
            params[key] = self.decode(value)
            if key in unsaved and _is_set(params[key]):
                raise ValueError(
                    f"The file sets {name}'s {key}={_preview(params[key])}: {key} names code or "
                    "a place on disk, which a skae file never holds (fit would use it). The "
                    "file is refused and nothing in it was run."
                )
        try:
            est = cls(**params)
        except TypeError as exc:
            raise ValueError(f"The file's parameters do not fit {name}: {exc}.") from None
        _check_params(est, name)
        param_names = est.get_params(deep=False).keys()
        state = _expect(payload.get("state"), dict, "state")
        net = None
        for key, value in state.items():
            if not isinstance(key, str) or not key.isidentifier() or key.startswith("__"):
                raise ValueError(f"The file holds an attribute named {_preview(key)}.")
            if key in param_names:
                raise ValueError(
                    f"The file sets {name}'s parameter {key!r} as a fitted attribute; "
                    "parameters are given only as parameters."
                )
            if key == "net_":
                net = _expect(value, dict, "net_").get("net")
                continue
            vars(est)[key] = self.decode(value)
        if net is not None:
            if not hasattr(est, "_restore_net"):
                raise ValueError(f"{name} has no network, but the file gives it one.")
            self._restore_net(est, name, _expect(net, dict, "net"))
        return est

    def _restore_net(self, est, name, payload):
        # the estimator rebuilds its network; the file gives the saved state
        keys = {part: _expect(payload.get(part), dict, part) for part in ("module", "criterion")}
        saved_device = payload.get("device")
        if not isinstance(saved_device, str):
            raise ValueError(f"Malformed network device {_preview(saved_device)} in the file.")
        try:
            est._restore_net(
                {key: self.tensor(tensor) for key, tensor in keys["module"].items()},
                {key: self.tensor(tensor) for key, tensor in keys["criterion"].items()},
                self.decode(payload.get("history")),
                saved_device=saved_device,
                device=self.device,
            )
        except (TypeError, KeyError, IndexError, AttributeError, RuntimeError) as exc:
            raise ValueError(
                f"The {name} network cannot be rebuilt from the file's parameters and fitted "
                f"attributes ({type(exc).__name__}: {exc}); the file is damaged."
            ) from None


def _is_placeholder(value) -> bool:
    return isinstance(value, dict) and list(value) == ["user_module"]


def _check_params(est, name):
    """Check a loaded object's parameters as ``fit`` would, before anything uses them."""
    try:
        if hasattr(est, "_validate_params"):
            est._validate_params()
        check = _CHECKS.get(type(est))
        if check is not None:
            check(est)
        if hasattr(est, "_check_loaded_params"):
            est._check_loaded_params()
    except (TypeError, ValueError) as exc:  # sklearn's InvalidParameterError is both
        raise ValueError(f"The file's parameters are not valid for {name}: {exc}") from None


def _expect(value, kind, what):
    if not isinstance(value, kind):
        raise ValueError(f"Malformed {what} in the file: {_preview(value)}.")
    return value


def _shape(value) -> tuple:
    valid = isinstance(value, list) and all(
        type(n) is int and n >= 0
        for n in value  # type() so that booleans are refused
    )
    if not valid:
        raise ValueError(f"Malformed array shape {_preview(value)} in the file.")
    return tuple(value)


def _dtype(text, kinds=_TENSOR_KINDS):
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in kinds:
        raise ValueError(f"The file holds an array of unsupported dtype {_preview(text)}.")
    return dtype


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ----------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------
def save(obj, path) -> None:
    """Write ``obj`` to ``path``; the public face is :func:`skae.persistence.save`."""
    writer = _Writer()
    if type(obj) not in _ESTIMATOR_NAMES:
        raise TypeError(
            f"skae.save stores skae estimators and Pipelines of them, not "
            f"{type(obj).__name__}; keep other objects with pickle/joblib (or skops)."
        )
    root = writer.encode(obj, "")
    metadata = {
        "format": "skae",
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "object": root,
    }
    text = json.dumps(metadata, allow_nan=False, indent=1)
    weights = safetensors.torch.save(writer.tensors)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".skae-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                archive.writestr(_METADATA, text, compress_type=zipfile.ZIP_DEFLATED)
                archive.writestr(_WEIGHTS, weights, compress_type=zipfile.ZIP_STORED)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path, *, modules=None, device=None):
    """Read the object in ``path``; the public face is :func:`skae.persistence.load`."""
    try:
        path = os.fsdecode(path)
    except TypeError:
        raise TypeError(
            f"skae.load needs a path (str, bytes or os.PathLike), got {type(path).__name__}."
        ) from None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No skae file at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a skae file (a zip archive written by skae.save). If it is a "
            "pickle or joblib file, open it with those only if you trust its origin: "
            "loading a pickle can run any code."
        )
    try:
        text, weights = _read_members(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(
            f"{path!r} is a damaged zip archive ({type(exc).__name__}: {exc})."
        ) from None
    try:
        metadata = json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path!r}: {_METADATA} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{path!r}: {_METADATA} nests too deeply to be a skae file.") from None
    _check_header(metadata, path)
    try:
        tensors = safetensors.torch.load(weights)
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"{path!r}: {_WEIGHTS} is not a valid safetensors file ({exc}).") from None
    del weights
    reader = _Reader(tensors, modules, device)
    try:
        obj = reader.decode(metadata["object"])
    except ValueError:
        raise
    except Exception as exc:  # a damaged file gives the documented error, never another
        raise ValueError(
            f"{path!r} is damaged or was not written by skae: {type(exc).__name__}: {exc}"
        ) from exc
    unreferenced = sorted(set(tensors) - reader.used_tensors)
    if unreferenced:
        raise ValueError(
            f"{path!r}: {_WEIGHTS} holds tensors that the metadata never uses "
            f"({_preview(unreferenced)}); the file is damaged or was not written by skae."
        )
    unused = sorted(set(reader.modules) - reader.used_modules)
    if unused:
        raise ValueError(
            f"modules={unused} were passed to load, but the file has no ModuleAE parameter "
            f"of that name; it needs {sorted(reader.used_modules) or 'none'}."
        )
    return obj


def _read_members(path):
    """The metadata text and the weights bytes, each read within its bound."""
    with zipfile.ZipFile(path) as archive:
        listed = archive.namelist()
        names = set(listed)
        if names != {_METADATA, _WEIGHTS} or len(listed) != 2:
            unexpected = sorted(names - {_METADATA, _WEIGHTS})
            missing = sorted({_METADATA, _WEIGHTS} - names)
            raise ValueError(
                f"{path!r} is not a valid skae file: it should hold exactly {_METADATA} and "
                f"{_WEIGHTS}, but has unexpected members {unexpected} and lacks {missing}. "
                "Nothing in it was read."
            )
        meta, weights = archive.getinfo(_METADATA), archive.getinfo(_WEIGHTS)
        if meta.file_size > MAX_METADATA_BYTES:
            raise ValueError(_too_large(path, meta.file_size))
        if weights.compress_type != zipfile.ZIP_STORED or weights.file_size > os.path.getsize(path):
            raise ValueError(
                f"{path!r}: {_WEIGHTS} is compressed or larger than the file; skae stores "
                "weights uncompressed, so a file never holds more weights than its size."
            )
        with archive.open(meta) as member:
            text = member.read(MAX_METADATA_BYTES + 1)
        if len(text) > MAX_METADATA_BYTES:  # the declared size was wrong
            raise ValueError(_too_large(path, len(text)))
        return text, archive.read(weights)


def _too_large(path, size):
    return (
        f"{path!r}: {_METADATA} inflates to more than {MAX_METADATA_BYTES // 2**20} MiB "
        f"({size} bytes or more); a skae file's metadata is a few kilobytes to megabytes. "
        "It is damaged or was not written by skae."
    )


def _no_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _check_header(metadata, path):
    if not isinstance(metadata, dict) or metadata.get("format") != "skae":
        raise ValueError(f"{path!r} is not a skae file: its metadata has no skae format tag.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path!r} has an invalid format_version {_preview(version)}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} uses skae file format {version}, newer than the format {FORMAT_VERSION} "
            "this skae reads. Upgrade skae to load it."
        )
    if "object" not in metadata:
        raise ValueError(f"{path!r} holds no object.")
    written = metadata.get("versions")
    written = written if isinstance(written, dict) else {}
    here = _versions()
    for package in ("skae", "sklearn"):
        theirs = str(written.get(package, "unknown"))
        if _short_version(theirs) != _short_version(here[package]):
            warn(
                f"{path!r} was written with {package} {theirs} and is loaded with "
                f"{package} {here[package]}; results may differ. Save it again with this "
                "version once you have checked it.",
                VersionMismatchWarning,
            )
