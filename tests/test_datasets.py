"""Reading a folder of images."""

import numpy as np
import pytest
from PIL import Image

from skae.datasets import load_image_folder


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def mri_folder(tmp_path):
    """no/ and yes/ with grey images of mixed sizes, plus one RGB image."""
    rng = np.random.RandomState(0)
    _save(tmp_path / "no" / "a.png", np.full((10, 10), 255, np.uint8))
    _save(tmp_path / "no" / "b.png", rng.randint(0, 256, (20, 30), dtype=np.uint8))
    _save(tmp_path / "yes" / "c.png", np.zeros((7, 9), np.uint8))
    _save(tmp_path / "yes" / "d.png", rng.randint(0, 256, (12, 12, 3), dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_labels_from_subfolders_and_resizing(mri_folder):
    X, y = load_image_folder(mri_folder, size=(8, 6))
    assert X.shape == (4, 48)
    assert X.dtype == np.float32
    assert list(y) == ["no", "no", "yes", "yes"]
    assert 0 <= X.min() and X.max() <= 1
    np.testing.assert_allclose(X[0], 1.0)  # white image stays white after resizing
    np.testing.assert_allclose(X[2], 0.0)


def test_rgb_is_flattened_channels_first(tmp_path):
    image = np.zeros((4, 5, 3), np.uint8)
    image[..., 0] = 255  # pure red
    _save(tmp_path / "red" / "r.png", image)
    X, y = load_image_folder(tmp_path, size=None, grayscale=False)
    assert X.shape == (1, 3 * 4 * 5)
    channels = X[0].reshape(3, 4, 5)
    np.testing.assert_allclose(channels[0], 1.0)
    np.testing.assert_allclose(channels[1:], 0.0)
    assert list(y) == ["red"]


def test_int_size_and_flat_folder(tmp_path):
    _save(tmp_path / "a.png", np.zeros((5, 5), np.uint8))
    _save(tmp_path / "b.jpg", np.zeros((9, 3), np.uint8))
    X, y = load_image_folder(tmp_path, size=4)
    assert X.shape == (2, 16)
    assert y is None


def test_unreadable_file_raise_or_skip(mri_folder):
    broken = mri_folder / "yes" / "broken.png"
    broken.write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"Cannot read .*broken\.png.*on_error='skip'"):
        load_image_folder(mri_folder, size=8)
    with pytest.warns(UserWarning, match=r"Skipped 1 unreadable file\(s\): .*broken\.png"):
        X, y = load_image_folder(mri_folder, size=8, on_error="skip")
    assert X.shape == (4, 64) and list(y).count("yes") == 2


def test_mixed_sizes_without_resizing_are_refused(mri_folder):
    with pytest.raises(ValueError, match="pass size="):
        load_image_folder(mri_folder, size=None)


def test_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_image_folder(tmp_path / "file.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No image files"):
        load_image_folder(empty)
    with pytest.raises(ValueError, match="on_error must be"):
        load_image_folder(tmp_path, on_error="ignore")
    with pytest.raises(ValueError, match="size must"):
        load_image_folder(tmp_path, size=(0, 4))
