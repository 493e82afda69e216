import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

# One intra-op thread in every test process, with or without pytest-xdist.
# The thread count changes how torch splits its float reductions, so a
# measured bound would otherwise hold in one kind of run and not the other
# (a test that passes alone but fails under ``-n 2``); one thread each is also
# what several workers sharing the machine's cores want.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    """Bundled digits scaled to [0, 1], with labels: (X, y)."""
    data = load_digits()
    return (data.data / 16.0).astype(np.float64), data.target


@pytest.fixture(scope="session")
def digits_split(digits):
    """A fixed train/test split of the scaled digits: X_train, X_test, y_train, y_test."""
    from sklearn.model_selection import train_test_split

    X, y = digits
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def _state(obj, seen=None):
    """Everything ``obj`` holds, recursively, as values that compare exactly.

    A skorch net becomes its weights, optimizer and criterion state, history
    and mode; estimators and other objects become their ``__dict__``.
    """
    from skorch import NeuralNet

    seen = set() if seen is None else seen
    if isinstance(obj, torch.Tensor):
        return ("tensor", obj.dtype, tuple(obj.shape), obj.detach().cpu().clone())
    if isinstance(obj, np.ndarray):
        return ("array", obj.dtype, obj.shape, obj.copy())
    if isinstance(obj, NeuralNet):
        return {
            "id": id(obj),
            "module": _state(obj.module_.state_dict()),
            "training": [m.training for m in obj.module_.modules()],
            "optimizer": _state(obj.optimizer_.state_dict()),
            "criterion": _state(obj.criterion_.state_dict()),
            "history": _state(list(obj.history)),
            "settings": _state({k: v for k, v in vars(obj).items() if not k.endswith("_")}, seen),
        }
    if isinstance(obj, dict):
        return {k: _state(v, seen) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_state(v, seen) for v in obj)
    if isinstance(obj, float | int | str | bool | type(None) | np.generic):
        return obj
    if hasattr(obj, "__dict__") and id(obj) not in seen and not callable(obj):
        seen.add(id(obj))
        return ("object", type(obj), id(obj), _state(vars(obj), seen))
    return ("ref", id(obj))


def _assert_same(a, b, path="state"):
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert b[0] == "tensor" and a[1:3] == b[1:3], path
        assert torch.equal(a[3], b[3]) or bool(
            torch.isnan(a[3]).eq(torch.isnan(b[3])).all()
            and torch.where(torch.isnan(a[3]), 0, a[3])
            .eq(torch.where(torch.isnan(b[3]), 0, b[3]))
            .all()
        ), path
    elif isinstance(a, tuple) and a and a[0] == "array":
        assert b[0] == "array" and a[1:3] == b[1:3], path
        assert np.array_equal(a[3], b[3], equal_nan=a[3].dtype.kind in "fc"), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: {set(a) ^ set(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and a != a:
        assert isinstance(b, float) and b != b, path
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="session")
def state_of():
    """``state_of(est)``: a snapshot of everything ``est`` holds, for ``assert_same_state``."""
    return _state


@pytest.fixture(scope="session")
def assert_same_state():
    """``assert_same_state(before, after)``: two ``state_of`` snapshots are bit-identical."""
    return _assert_same
