"""The ``skae demo`` command."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from skae import cli


def _run(capsys, *args):
    status = cli.main(["demo", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_demo_on_digits_writes_pictures_and_metrics(tmp_path, capsys):
    out = tmp_path / "result"
    status, stdout, stderr = _run(capsys, "--out", str(out), "--epochs", "3", "--seed", "1")
    assert status == 0
    assert str(out.resolve()) in stdout
    assert "autoencoder" in stdout and "PCA" in stdout
    assert "epoch" in stderr  # the progress bars
    for name in [
        "loss_curve.png",
        "reconstructions.png",
        "latent_scatter.png",
        "latent_grid.png",
        "metrics.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == {
        "source": "bundled digits",
        "n_train": 1347,
        "n_test": 450,
        "n_features": 64,
        "image_shape": [8, 8],
        "labelled": True,
    }
    assert metrics["settings"] == {"epochs": 3, "seed": 1}
    rec = metrics["reconstruction"]
    assert rec["n_components"] == 16 and rec["epochs"] == 3
    assert 0 < rec["autoencoder_test_mse"] < 0.2
    assert 0 < rec["pca_test_mse"] < 0.05  # PCA(16) on digits: about 0.012
    latent = metrics["latent_2d"]
    assert 0.1 <= latent["knn_accuracy_autoencoder"] <= 1
    assert 0.55 < latent["knn_accuracy_pca"] < 0.7  # PCA(2) + 5-NN: about 0.62
    assert set(metrics["files"]) == {p.name for p in out.iterdir()}


def test_demo_default_epochs_beats_pca(tmp_path):
    # 60 epochs (the default): measured AE MSE 0.0096 vs PCA 0.0115 at 16-D,
    # and kNN accuracy 0.864 vs 0.618 at 2-D (the 11.5 s run of the whole demo).
    cli.run_demo(tmp_path, progress=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rec, latent = metrics["reconstruction"], metrics["latent_2d"]
    assert rec["autoencoder_test_mse"] < 0.95 * rec["pca_test_mse"]
    assert latent["knn_accuracy_autoencoder"] > latent["knn_accuracy_pca"] + 0.1


def test_demo_on_unlabelled_npy(tmp_path, capsys):
    rng = np.random.RandomState(0)
    data = tmp_path / "data.npy"
    np.save(data, rng.normal(size=(60, 7)) * 50)  # not in [0, 1], not images
    status, stdout, _ = _run(
        capsys, "--data", str(data), "--out", str(tmp_path / "o"), "--epochs", "2", "--quiet"
    )
    assert status == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["data"]["labelled"] is False and metrics["data"]["image_shape"] is None
    assert "knn_accuracy_pca" not in metrics["latent_2d"]
    assert metrics["reconstruction"]["n_components"] == 2
    assert set(metrics["files"]) == {"loss_curve.png", "latent_scatter.png", "metrics.json"}


def test_demo_on_csv_with_header_and_image_stack(tmp_path, capsys):
    rng = np.random.RandomState(0)
    csv = tmp_path / "data.csv"
    np.savetxt(csv, rng.uniform(size=(30, 4)), delimiter=",", header="a,b,c,d", comments="")
    status, _, _ = _run(
        capsys, "--data", str(csv), "--out", str(tmp_path / "c"), "--epochs", "1", "--quiet"
    )
    assert status == 0
    stack = tmp_path / "stack.npy"
    np.save(stack, rng.uniform(size=(30, 5, 6)))
    status, _, _ = _run(
        capsys, "--data", str(stack), "--out", str(tmp_path / "s"), "--epochs", "1", "--quiet"
    )
    assert status == 0
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["data"]["image_shape"] == [5, 6]
    assert (tmp_path / "s" / "reconstructions.png").exists()


def test_demo_on_image_folder(tmp_path, capsys):
    rng = np.random.RandomState(0)
    for label in ("no", "yes"):
        for i in range(12):
            size = (20, 20) if i % 2 else (30, 24)
            image = rng.randint(0, 256, size, dtype=np.uint8)
            (tmp_path / "mri" / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(tmp_path / "mri" / label / f"{i}.png")
    status, _, _ = _run(
        capsys,
        "--data",
        str(tmp_path / "mri"),
        "--out",
        str(tmp_path / "o"),
        "--epochs",
        "1",
        "--quiet",
    )
    assert status == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["data"]["image_shape"] == [28, 28]
    assert metrics["data"]["labelled"] is True
    assert "knn_accuracy_autoencoder" in metrics["latent_2d"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.npy", "does not exist"),
        (lambda p: p, "No image files"),
        (lambda p: _write(p / "x.txt", b"1,2"), "neither a .npy file"),
        (lambda p: _write(p / "x.npy", b"garbage"), "Cannot read .* as a .npy array"),
        (lambda p: _write(p / "x.csv", b"a,b\n1,zz\n"), "numeric CSV"),
        (lambda p: _save(p / "few.npy", np.zeros((5, 4))), "at least 20"),
        (lambda p: _save(p / "nan.npy", np.full((30, 4), np.nan)), "NaN"),
        (lambda p: _save(p / "5d.npy", np.zeros((30, 2, 2, 2, 2))), "expected"),
    ],
)
def test_bad_data_gives_message_and_exit_status(tmp_path, capsys, make, message):
    data = tmp_path / "in"
    data.mkdir()
    status, stdout, stderr = _run(capsys, "--data", str(make(data)), "--out", str(tmp_path / "o"))
    assert status == 1
    assert stderr.startswith("skae demo: error:")
    assert re.search(message, stderr)
    assert "Traceback" not in stderr and stdout == ""


def test_unreadable_image_in_folder(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    status, _, stderr = _run(capsys, "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert status == 1
    assert "bad.png" in stderr


def test_bad_options_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--epochs", "0"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
    assert cli.main([]) == 0  # no command: help


def test_python_m_skae_reports_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skae", "demo", "--data", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(__import__("pathlib").Path(cli.__file__).parents[1]), "PATH": ""},
        check=False,
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def _write(path, content):
    path.write_bytes(content)
    return path


def _save(path, array):
    np.save(path, array)
    return path


def test_steps_are_pluggable(tmp_path):
    seen = []

    def extra(ctx):
        seen.append(ctx.X_train.shape)
        ctx.metrics["extra"] = {"value": 1.5}
        return ["extra step ran"]

    steps = [
        cli.DemoStep("extra", extra),
        cli.DemoStep("labels only", lambda ctx: ["never"], needs_labels=True),
    ]
    data = tmp_path / "x.npy"
    np.save(data, np.random.RandomState(0).uniform(size=(40, 5)))
    summary = cli.run_demo(tmp_path / "o", data=data, steps=steps, progress=False)
    assert summary == ["extra step ran"]
    assert seen == [(30, 5)]
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["extra"] == {"value": 1.5}


def test_output_folder_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")
    status, _, stderr = _run(capsys, "--out", str(target))
    assert status == 1
    assert "Cannot create the output folder" in stderr
