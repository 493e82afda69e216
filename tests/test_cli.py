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


DIGITS_FILES = {
    "loss_curve.png",
    "reconstructions.png",
    "denoising_loss_curve.png",
    "denoised.png",
    "vae_loss_curve.png",
    "latent_scatter.png",
    "latent_grid.png",
    "samples.png",
    "metrics.json",
}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 3-epoch fits
def test_demo_on_digits_writes_pictures_and_metrics(tmp_path, capsys):
    out = tmp_path / "result"
    status, stdout, stderr = _run(capsys, "--out", str(out), "--epochs", "3", "--seed", "1")
    assert status == 0
    assert str(out.resolve()) in stdout
    for word in ("autoencoder", "PCA", "PSNR", "VAE", "ROC-AUC"):
        assert word in stdout, word
    # one progress bar per model
    for bar in ("autoencoder (16-D", "denoising autoencoder", "VAE (2-D", "outlier detector"):
        assert bar in stderr, bar
    assert {p.name for p in out.iterdir()} == DIGITS_FILES
    for name in DIGITS_FILES:
        assert (out / name).stat().st_size > 0, name
    for name in DIGITS_FILES - {"metrics.json"}:
        with Image.open(out / name) as image:
            assert image.size[0] > 100, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {
        "data",
        "settings",
        "reconstruction",
        "denoising",
        "latent_2d",
        "anomaly",
        "skipped",
        "seconds",
        "cpu_seconds",
        "files",
    }
    assert metrics["data"] == {
        "source": "bundled digits",
        "n_train": 1347,
        "n_test": 450,
        "n_features": 64,
        "image_shape": [8, 8],
        "labelled": True,
        "streamed": False,
    }
    assert metrics["settings"] == {"epochs": 3, "seed": 1}
    assert metrics["skipped"] == {}
    assert metrics["seconds"] > 0 and metrics["cpu_seconds"] > 0
    assert set(metrics["files"]) == DIGITS_FILES

    rec = metrics["reconstruction"]
    assert set(rec) == {
        "n_components",
        "autoencoder_test_mse",
        "pca_test_mse",
        "mse_ratio_autoencoder_to_pca",
        "epochs",
    }
    assert rec["n_components"] == 16 and rec["epochs"] == 3
    assert 0 < rec["autoencoder_test_mse"] < 0.2
    assert 0 < rec["pca_test_mse"] < 0.05  # PCA(16) on digits: about 0.012
    assert rec["mse_ratio_autoencoder_to_pca"] == pytest.approx(
        rec["autoencoder_test_mse"] / rec["pca_test_mse"]
    )

    den = metrics["denoising"]
    assert set(den) == {
        "noise",
        "noise_level",
        "clip",
        "n_components",
        "psnr_noisy",
        "psnr_denoised",
        "psnr_pca",
        "epochs",
    }
    assert den["noise"] == "gaussian" and den["noise_level"] == 0.5 and den["clip"] == [0, 1]
    assert den["n_components"] == 16 and den["epochs"] == 3
    # Gaussian noise of factor 0.5 clipped to [0, 1]: PSNR about 9.4 dB.
    assert 8.5 < den["psnr_noisy"] < 10.5
    assert 5 < den["psnr_denoised"] < 40
    assert 12 < den["psnr_pca"] < 14.5  # PCA(16) of the noisy test digits: about 13.3

    latent = metrics["latent_2d"]
    assert set(latent) == {
        "model",
        "n_components",
        "epochs",
        "knn_accuracy_vae",
        "knn_accuracy_pca",
    }
    assert latent["model"] == "VAE" and latent["n_components"] == 2 and latent["epochs"] == 3
    assert 0.1 <= latent["knn_accuracy_vae"] <= 1
    assert 0.55 < latent["knn_accuracy_pca"] < 0.7  # PCA(2) + 5-NN: about 0.62

    anomaly = metrics["anomaly"]
    assert set(anomaly) == {
        "normal_class",
        "n_train_normal",
        "n_components",
        "roc_auc_autoencoder",
        "roc_auc_pca",
        "epochs",
    }
    assert anomaly["normal_class"] in range(10) and anomaly["epochs"] == 3
    assert 100 < anomaly["n_train_normal"] < 150  # about 1347 / 10
    assert anomaly["n_components"] == 8
    assert 0 <= anomaly["roc_auc_autoencoder"] <= 1
    assert 0.9 < anomaly["roc_auc_pca"] <= 1  # PCA(8) error, normal digit 3: 0.989


@pytest.mark.slow
def test_demo_default_epochs_beats_pca(tmp_path):
    # Default epochs (60 for the autoencoders, 75 for the VAE), seed 0, measured:
    # AE MSE 0.0063 vs PCA 0.0115 at 16-D; PSNR noisy 9.4, denoised 15.0, PCA 13.3 dB;
    # kNN accuracy VAE 0.867 vs PCA(2) 0.618; anomaly ROC-AUC (digit 3 normal)
    # autoencoder 0.997 vs PCA 0.989. The whole demo: about 17 s on 2 cores.
    cli.run_demo(tmp_path, progress=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rec, den = metrics["reconstruction"], metrics["denoising"]
    latent, anomaly = metrics["latent_2d"], metrics["anomaly"]
    assert metrics["settings"]["epochs"] is None
    assert rec["epochs"] == den["epochs"] == anomaly["epochs"] == 60
    assert latent["epochs"] == 75
    assert rec["autoencoder_test_mse"] < 0.95 * rec["pca_test_mse"]
    assert den["psnr_denoised"] > den["psnr_noisy"] + 4
    assert den["psnr_denoised"] > den["psnr_pca"] + 0.6
    assert latent["knn_accuracy_vae"] > latent["knn_accuracy_pca"] + 0.15
    assert anomaly["normal_class"] == 3
    assert anomaly["roc_auc_autoencoder"] > 0.98


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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
    assert "anomaly" not in metrics
    assert metrics["skipped"] == {"anomaly": "the data have no labels"}
    assert metrics["reconstruction"]["n_components"] == 2
    assert metrics["denoising"]["n_components"] == 2
    assert np.isfinite(metrics["denoising"]["psnr_denoised"])
    assert set(metrics["files"]) == {
        "loss_curve.png",
        "denoising_loss_curve.png",
        "vae_loss_curve.png",
        "latent_scatter.png",
        "metrics.json",
    }
    assert "kNN accuracy on the 2-D code: skipped, the data have no labels" in stdout
    assert "anomaly: skipped, the data have no labels" in stdout
    assert "image pictures: skipped, the data are not images" in stdout


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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
    for name in ("reconstructions.png", "denoised.png", "latent_grid.png", "samples.png"):
        assert (tmp_path / "s" / name).exists(), name


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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
    assert "knn_accuracy_vae" in metrics["latent_2d"]
    assert metrics["anomaly"]["normal_class"] in ("no", "yes")
    assert 0 <= metrics["anomaly"]["roc_auc_autoencoder"] <= 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.npy", "does not exist"),
        (lambda p: p, "No image files"),
        (lambda p: _write(p / "x.txt", b"1,2"), "neither a .npy file"),
        (lambda p: _write(p / "x.npy", b"garbage"), "not a NumPy .npy file"),
        (lambda p: _truncated(p / "cut.npy"), "Cannot read .* as a .npy array"),
        (lambda p: _write(p / "x.csv", b"a,b\n1,zz\n"), "numeric CSV"),
        (lambda p: _save(p / "few.npy", np.zeros((5, 4))), "at least 20"),
        (lambda p: _save(p / "nan.npy", np.full((30, 4), np.nan)), "NaN"),
        (lambda p: _save(p / "5d.npy", np.zeros((30, 2, 2, 2, 2))), "expected"),
        (lambda p: _write(p / "empty.csv", b""), "holds no data rows"),
        (lambda p: _write(p / "header.csv", b"a,b,c\n"), "holds no data rows"),
        (lambda p: _save(p / "none.npy", np.zeros((0, 5))), r"no samples .*\(0, 5\)"),
        (lambda p: _save(p / "flat0.npy", np.zeros((0,))), "no samples"),
        (lambda p: _write(p / "text.npy", b"1,2\n3,4\n"), "not a NumPy .npy file"),
        (lambda p: _save(p / "c.npy", np.ones((30, 4)) * (1 + 2j)), "complex values.*X.real"),
        (
            lambda p: _save(p / "obj.npy", np.array([{"a": 1}] * 30, dtype=object)),
            "holds Python objects",
        ),
    ],
)
def test_bad_data_gives_message_and_exit_status(tmp_path, capsys, make, message):
    data = tmp_path / "in"
    data.mkdir()
    status, stdout, stderr = _run(capsys, "--data", str(make(data)), "--out", str(tmp_path / "o"))
    assert status == 2  # as argparse exits on a bad option
    assert stderr.startswith("skae demo: error:")
    assert re.search(message, stderr)
    assert stderr.count("\n") == 1  # one line
    assert "Traceback" not in stderr and stdout == ""
    # never advice the command line cannot follow
    for word in ("allow_pickle", "on_error", "reshape"):
        assert word not in stderr


def test_unreadable_image_in_folder(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    status, _, stderr = _run(capsys, "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert status == 2
    assert "bad.png" in stderr and "--skip-unreadable" in stderr
    assert "on_error" not in stderr and stderr.count("\n") == 1


def _image_folder(root, n=12, bad=("a/bad.png",)):
    rng = np.random.RandomState(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(n):
            image = rng.randint(0, 256, (10, 10), dtype=np.uint8)
            Image.fromarray(image).save(root / label / f"{i}.png")
    for name in bad:
        (root / name).write_bytes(b"not a png")
    return root


def _seen_step(seen):
    def step(ctx):
        seen.append((ctx.X_train.shape, ctx.y_train, ctx.y_test))
        return ["seen"]

    return cli.DemoStep("seen", step)


@pytest.mark.parametrize("streamed", [False, True])
def test_skip_unreadable_images(tmp_path, capsys, streamed):
    folder = _image_folder(tmp_path / "img")
    seen = []
    memmap = tmp_path / "X.npy" if streamed else None
    with pytest.raises(cli.DataError, match="--skip-unreadable"):
        cli.run_demo(tmp_path / "o", data=folder, memmap=memmap, progress=False, steps=[])
    summary = cli.run_demo(
        tmp_path / "o",
        data=folder,
        memmap=memmap,
        progress=False,
        steps=[_seen_step(seen)],
        skip_unreadable=True,
    )
    assert summary[0].startswith("Skipped 1 unreadable file(s):") and "bad.png" in summary[0]
    ((shape, y_train, y_test),) = seen
    assert shape[1] == 784 and len(y_train) + len(y_test) == 24
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == ["a"] * 12 + ["b"] * 12
    if streamed:
        X = np.load(memmap)
        assert X.shape == (24, 784) and np.isfinite(X).all()
    args = cli._parser().parse_args(["demo", "--data", str(folder), "--skip-unreadable"])
    assert args.skip_unreadable is True


def test_images_to_memmap_skips_and_shrinks_the_file(tmp_path):
    from skae.datasets import images_to_memmap, load_image_folder

    folder = _image_folder(tmp_path / "img", n=3, bad=("a/0bad.png", "b/zbad.png"))
    with pytest.warns(UserWarning, match="Skipped 2 unreadable"):
        X, y = images_to_memmap(folder, tmp_path / "X.npy", 8, progress=False, on_error="skip")
    with pytest.warns(UserWarning):
        X_ref, y_ref = load_image_folder(folder, size=8, on_error="skip")
    np.testing.assert_array_equal(np.asarray(X), X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert (tmp_path / "X.npy").stat().st_size == X.offset + X_ref.nbytes
    with pytest.raises(ValueError, match="on_error"):
        images_to_memmap(folder, tmp_path / "Y.npy", 8, progress=False, on_error="ignore")


@pytest.mark.parametrize("kind", ["npy", "txt", "csv_strings"])
def test_labels_for_npy_and_csv(tmp_path, kind):
    rng = np.random.RandomState(0)
    data = _save(tmp_path / "x.npy", rng.uniform(size=(40, 5)))
    if kind == "npy":
        labels = _save(tmp_path / "y.npy", np.arange(40) % 3)
        expected = np.arange(40) % 3
    elif kind == "txt":
        labels = _write(tmp_path / "y.txt", "\n".join(str(i % 3) for i in range(40)).encode())
        expected = np.arange(40) % 3
    else:
        data = tmp_path / "x.csv"
        np.savetxt(data, rng.uniform(size=(40, 5)), delimiter=",", header="a,b,c,d,e")
        names = np.array(["cat", "dog"])[np.arange(40) % 2]
        labels = _write(tmp_path / "y.csv", ("\n".join(names) + "\n").encode())
        expected = names
    X, y, _, _ = cli.load_data(data, labels=labels)
    assert X.shape == (40, 5)
    np.testing.assert_array_equal(y, expected)
    seen = []
    cli.run_demo(tmp_path / "o", data=data, labels=labels, steps=[_seen_step(seen)], progress=False)
    ((_, y_train, y_test),) = seen
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == sorted(expected.tolist())
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["data"]["labelled"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (("--labels", "{y39}"), "holds 39 labels but .* holds 40 samples"),
        (("--labels", "{missing}"), "labels file .* does not exist"),
        (("--labels", "{y2d}"), r"shape \(40, 2\)"),
        (("--labels", "{ynan}"), "NaN"),
        (("--labels", "{ytext}"), "not a NumPy .npy file"),
        (("--labels", "{yheader}"), r"holds 41 labels \(a header line\? remove it\)"),
    ],
)
def test_bad_labels(tmp_path, capsys, args, message):
    data = _save(tmp_path / "x.npy", np.random.RandomState(0).uniform(size=(40, 5)))
    files = {
        "y39": _save(tmp_path / "y39.npy", np.arange(39)),
        "missing": tmp_path / "nope.npy",
        "y2d": _save(tmp_path / "y2d.npy", np.zeros((40, 2))),
        "ynan": _save(tmp_path / "ynan.npy", np.full(40, np.nan)),
        "ytext": _write(tmp_path / "ytext.npy", b"a\nb\n"),
        "yheader": _write(tmp_path / "y.csv", "\n".join(["label"] + ["a"] * 40).encode()),
    }
    args = [a.format(**files) for a in args]
    status, stdout, stderr = _run(capsys, "--data", str(data), *args, "--out", str(tmp_path / "o"))
    assert status == 2 and stdout == ""
    assert re.search(message, stderr), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_labels_need_a_file_of_samples(tmp_path, capsys):
    labels = _save(tmp_path / "y.npy", np.arange(40))
    status, _, stderr = _run(capsys, "--labels", str(labels))
    assert status == 2 and "add --data" in stderr
    folder = _image_folder(tmp_path / "img", bad=())
    status, _, stderr = _run(capsys, "--data", str(folder), "--labels", str(labels))
    assert status == 2 and "subfolder names" in stderr


def test_help_says_how_labels_are_given(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--labels FILE" in text and "one label per line" in text
    assert "subfolder per class" in text and "--skip-unreadable" in text


def test_bad_options_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--epochs", "0"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
    assert cli.main([]) == 0  # no command: help


@pytest.mark.slow
def test_python_m_skae_reports_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skae", "demo", "--data", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(__import__("pathlib").Path(cli.__file__).parents[1]), "PATH": ""},
        check=False,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def _write(path, content):
    path.write_bytes(content)
    return path


def _truncated(path):
    np.save(path, np.zeros((30, 4)))
    path.write_bytes(path.read_bytes()[:-16])
    return path


def _save(path, array):
    np.save(path, array, allow_pickle=array.dtype == object)
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
    assert summary == [
        "extra step ran",
        "labels only: skipped, the data have no labels",
        "image pictures: skipped, the data are not images",
    ]
    assert seen == [(30, 5)]
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["extra"] == {"value": 1.5}
    assert metrics["skipped"] == {"labels only": "the data have no labels"}


def test_output_folder_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")
    status, _, stderr = _run(capsys, "--out", str(target))
    assert status == 2
    assert "Cannot create the output folder" in stderr


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_demo_streams_a_folder_through_a_memmap(tmp_path, capsys, monkeypatch):
    from skae import _engine

    rng = np.random.RandomState(0)
    for label, bright in (("dark", 60), ("light", 190)):
        (tmp_path / "img" / label).mkdir(parents=True)
        for i in range(30):
            image = np.clip(rng.normal(bright, 30, (24, 20)), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(tmp_path / "img" / label / f"{i}.png")
    monkeypatch.setattr(cli, "STREAMED_TEST_ROWS", 10)
    monkeypatch.setattr(cli, "STREAMED_SAMPLE_ROWS", 30)
    to_tensor = _engine.to_tensor

    def no_whole_copy(X, device="cpu"):
        assert not isinstance(X, np.memmap), "a memmap was converted whole"
        return to_tensor(X, device)

    monkeypatch.setattr(_engine, "to_tensor", no_whole_copy)
    path = tmp_path / "images.npy"
    args = ("--data", str(tmp_path / "img"), "--memmap", str(path), "--epochs", "1", "--quiet")
    status, stdout, _ = _run(capsys, *args, "--out", str(tmp_path / "o"))
    assert status == 0, stdout
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["data"]["streamed"] is True
    assert (metrics["data"]["n_train"], metrics["data"]["n_test"]) == (50, 10)
    assert metrics["data"]["image_shape"] == [28, 28]
    assert metrics["anomaly"]["normal_class"] in ("dark", "light")
    assert "knn_accuracy_vae" in metrics["latent_2d"]
    # every image is in the memmap once, and the training file holds 50 of
    # them in a shuffled order (not class by class)
    X = np.load(path)
    train = np.load(tmp_path / "images_train.npy")
    assert X.shape == (60, 784) and train.shape == (50, 784)
    index = {row.tobytes(): i for i, row in enumerate(X)}
    order = [index[row.tobytes()] for row in train]
    assert len(set(order)) == 50 and order != sorted(order)
    # the same seed writes the same split
    status, _, _ = _run(capsys, *args, "--out", str(tmp_path / "o2"))
    assert status == 0
    np.testing.assert_array_equal(np.load(tmp_path / "images_train.npy"), train)


def test_memmap_needs_a_folder(tmp_path, capsys):
    _save(tmp_path / "x.npy", np.random.RandomState(0).rand(30, 4))
    status, _, stderr = _run(
        capsys, "--data", str(tmp_path / "x.npy"), "--memmap", str(tmp_path / "m.npy")
    )
    assert status == 2
    assert "is not a folder" in stderr and "Traceback" not in stderr
