"""Hostile and damaged skae files: refused with a ValueError, bounded, and never run code."""

import json
import os
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skae
from skae import _codec

# the models saved here are one-epoch fits: the files, not the models, are tested
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X = np.random.RandomState(0).rand(40, 6)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The members of a saved AutoEncoder file: (metadata dict, weights bytes)."""
    path = tmp_path_factory.mktemp("saved") / "m.skae"
    skae.AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0).fit(
        X
    ).save(path)
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("metadata.json")), archive.read("weights.safetensors")


def _write(path, metadata, weights, *, metadata_bytes=None, compress=zipfile.ZIP_STORED):
    text = json.dumps(metadata).encode() if metadata_bytes is None else metadata_bytes
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", text, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("weights.safetensors", weights, compress_type=compress)
    return path


def _edited(saved, edit):
    metadata = json.loads(json.dumps(saved[0]))
    edit(metadata["object"]["estimator"])
    return metadata


# ----------------------------------------------------------------------
# Parameters naming a place on disk or code
# ----------------------------------------------------------------------
def _pipeline(memory):
    ae = skae.AutoEncoder(n_components=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    return Pipeline([("scale", StandardScaler()), ("ae", ae)], memory=memory)


def test_a_pipeline_memory_is_dropped_on_save_with_a_warning(tmp_path):
    cache = tmp_path / "cache"
    pipe = _pipeline(str(cache)).fit(X)
    with pytest.warns(UserWarning, match="memory names code or a place on disk"):
        skae.save(pipe, tmp_path / "p.skae")
    loaded = skae.load(tmp_path / "p.skae")
    assert loaded.memory is None
    before = sorted(p.name for p in tmp_path.iterdir())
    loaded.fit(X)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # fit wrote nothing


@pytest.mark.parametrize("where", ["params", "state"])
def test_a_file_setting_a_pipeline_memory_is_refused(tmp_path, where):
    skae.save(_pipeline(None).fit(X), tmp_path / "p.skae")
    with zipfile.ZipFile(tmp_path / "p.skae") as archive:
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.safetensors")
    metadata["object"]["estimator"][where]["memory"] = str(tmp_path / "cache")
    _write(tmp_path / "p.skae", metadata, weights)
    with pytest.raises(ValueError, match="memory"):
        skae.load(tmp_path / "p.skae")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"callbacks": ["x"]}, "callbacks names code"),
        ({"optimizer": "os.system"}, "'optimizer' parameter"),
        ({"precision": "eval"}, "'precision' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"lr": -1.0}, "'lr' parameter"),
        ({"device": "meta"}, "holds no data"),
        ({"device": "not-a-device"}, "is not a torch device"),
        ({"lr_schedule": "cooldown", "callbacks": []}, None),  # valid: loads
    ],
)
def test_parameters_are_validated_at_load(saved, tmp_path, params, match):
    metadata = _edited(saved, lambda est: est["params"].update(params))
    path = _write(tmp_path / "m.skae", metadata, saved[1])
    if match is None:
        assert skae.load(path).transform(X[:2]).shape == (2, 2)
        return
    with pytest.raises(ValueError, match=match):
        skae.load(path)


def test_a_pipeline_with_a_string_step_is_refused_at_load(tmp_path):
    skae.save(_pipeline(None).fit(X), tmp_path / "p.skae")
    with zipfile.ZipFile(tmp_path / "p.skae") as archive:
        metadata = json.loads(archive.read("metadata.json"))
        weights = archive.read("weights.safetensors")
    metadata["object"]["estimator"]["params"]["steps"] = [{"tuple": ["a", "os.system"]}]
    metadata["object"]["estimator"]["state"] = {}
    _write(tmp_path / "p.skae", metadata, b"")
    with pytest.raises(ValueError, match="not valid for sklearn.pipeline.Pipeline"):
        skae.load(_write(tmp_path / "p.skae", metadata, safetensors.torch.save({})))
    del weights


def test_a_module_ae_module_given_as_a_string_is_refused(saved, tmp_path):
    def edit(est):
        est["class"] = "skae.ModuleAE"
        est["params"] = {"module": "os.system"}
        est["state"] = {}

    path = _write(tmp_path / "m.skae", _edited(saved, edit), safetensors.torch.save({}))
    with pytest.raises(ValueError, match="placeholder"):
        skae.load(path)


# ----------------------------------------------------------------------
# Bounded loading
# ----------------------------------------------------------------------
def test_inflated_metadata_beyond_the_bound_is_refused(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(_codec, "MAX_METADATA_BYTES", 4096)
    text = b" " * 8192 + json.dumps(saved[0]).encode()
    path = _write(tmp_path / "m.skae", None, saved[1], metadata_bytes=text)
    with pytest.raises(ValueError, match="inflates to more than"):
        skae.load(path)


def test_compressed_weights_are_refused(saved, tmp_path):
    path = _write(tmp_path / "m.skae", saved[0], saved[1], compress=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="compressed or larger than the file"):
        skae.load(path)


def test_an_unreferenced_tensor_is_refused(saved, tmp_path):
    tensors = safetensors.torch.load(saved[1])
    tensors["extra"] = torch.zeros(3)
    path = _write(tmp_path / "m.skae", saved[0], safetensors.torch.save(tensors))
    with pytest.raises(ValueError, match="never uses"):
        skae.load(path)


def test_a_string_array_wider_than_its_values_is_refused(saved, tmp_path):
    item = {"items": {"dtype": "<U50000000", "shape": [1], "values": ["a"]}}
    metadata = _edited(saved, lambda est: est["state"].update(x_=item))
    with pytest.raises(ValueError, match="declares strings of 50000000 characters"):
        skae.load(_write(tmp_path / "m.skae", metadata, saved[1]))


def test_a_huge_network_is_refused_before_it_is_built(saved, tmp_path):
    # built for real, (10**9,) hidden units would take 24 GB; on the meta device nothing
    metadata = _edited(
        saved, lambda est: est["params"].update(hidden_layer_sizes={"tuple": [10**9]})
    )
    with pytest.raises(ValueError, match=r"saved weights do not fit .*1000000000"):
        skae.load(_write(tmp_path / "m.skae", metadata, saved[1]))


# ----------------------------------------------------------------------
# Damaged files
# ----------------------------------------------------------------------
def _patch(path, old, new):
    data = path.read_bytes()
    assert data.count(old) >= 1
    path.write_bytes(data.replace(old, new))


def test_a_bad_crc_is_a_value_error(saved, tmp_path):
    path = _write(tmp_path / "m.skae", saved[0], saved[1])
    data = bytearray(path.read_bytes())
    at = data.find(b"weights.safetensors", 40) + len("weights.safetensors") + 200
    data[at] ^= 0xFF  # a byte of the stored weights
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged zip archive.*CRC"):
        skae.load(path)


def test_corrupt_deflate_data_is_a_value_error(saved, tmp_path):
    text = json.dumps(saved[0]).encode()
    path = tmp_path / "m.skae"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", text, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("weights.safetensors", saved[1])
    data = bytearray(path.read_bytes())
    start = data.find(b"metadata.json") + len("metadata.json")
    for i in range(start + 10, start + 40):
        data[i] = 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged zip archive|not valid JSON"):
        skae.load(path)


def test_an_unknown_compression_method_is_a_value_error(saved, tmp_path):
    path = _write(tmp_path / "m.skae", saved[0], saved[1])
    data = bytearray(path.read_bytes())
    # metadata.json is the first member: its method in the local and central headers
    data[8:10] = (99).to_bytes(2, "little")
    central = data.find(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged zip archive"):
        skae.load(path)


def test_deeply_nested_metadata_is_a_value_error(saved, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(saved[0]).replace('"n_components": 2', '"n_components": ' + deep, 1)
    path = _write(tmp_path / "m.skae", None, saved[1], metadata_bytes=text.encode())
    with pytest.raises(ValueError, match="nest"):
        skae.load(path)
    nested = {"tuple": [0]}
    for _ in range(200):
        nested = {"tuple": [nested]}
    metadata = _edited(saved, lambda est: est["state"].update(x_=nested))
    with pytest.raises(ValueError, match="nest more than"):
        skae.load(_write(tmp_path / "n.skae", metadata, saved[1]))


def test_a_malformed_history_is_a_value_error(saved, tmp_path):
    def edit(est):
        est["state"]["net_"]["net"]["history"] = {"history": [5]}

    with pytest.raises(ValueError):
        skae.load(_write(tmp_path / "m.skae", _edited(saved, edit), saved[1]))


# ----------------------------------------------------------------------
# Devices and paths
# ----------------------------------------------------------------------
@pytest.mark.parametrize("device", ["mps", "xpu", "hpu", "cuda:1"])
def test_a_model_from_a_device_this_machine_lacks_loads_on_the_cpu(saved, tmp_path, device):
    try:
        skae._engine.resolve_device(device)
        pytest.skip(f"this machine has {device}")
    except ValueError:
        pass

    def edit(est):
        est["state"]["net_"]["net"]["device"] = device

    path = _write(tmp_path / "m.skae", _edited(saved, edit), saved[1])
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        loaded = skae.load(path)
    assert loaded.net_.device == "cpu"
    assert loaded.transform(X[:3]).shape == (3, 2)


def test_load_takes_a_bytes_path(saved, tmp_path):
    path = _write(tmp_path / "m.skae", saved[0], saved[1])
    assert skae.load(os.fsencode(path)).transform(X[:2]).shape == (2, 2)
    with pytest.raises(TypeError, match="needs a path"):
        skae.load(12)
