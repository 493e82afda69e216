"""Reading the user's own images into arrays the estimators take."""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np

__all__ = ["images_to_memmap", "load_image_folder"]

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
    from PIL import Image, UnidentifiedImageError

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

    mode = "L" if grayscale else "RGB"
    rows, labels, skipped = [], [], []
    for label, file in entries:
        try:
            with Image.open(file) as image:
                image = image.convert(mode)
                if size is not None and image.size != (size[1], size[0]):
                    image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            if on_error == "raise":
                raise ValueError(
                    f"Cannot read {str(file)!r} as an image ({exc}). Remove the file, or "
                    "pass on_error='skip' to leave unreadable files out."
                ) from exc
            skipped.append(str(file))
            continue
        if pixels.ndim == 3:
            pixels = np.moveaxis(pixels, -1, 0)  # (H, W, C) -> (C, H, W)
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


def images_to_memmap(folder, path, image_shape=(32, 32), *, grey=True, progress=True):
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
    from PIL import Image, UnidentifiedImageError

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
    try:
        for row, (_, file) in enumerate(files):
            try:
                with Image.open(file) as image:
                    image = image.convert("L" if grey else "RGB")
                    if image.size != (size[1], size[0]):
                        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                    pixels = np.asarray(image, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise ValueError(
                    f"Cannot read {str(file)!r} as an image ({exc}). Remove the file and run again."
                ) from exc
            if pixels.ndim == 3:
                pixels = np.moveaxis(pixels, -1, 0)
            out[row] = pixels.reshape(-1)
        out.flush()
    finally:
        del out
    y = None if entries[0][0] is None else np.asarray([label for label, _ in entries])
    return np.load(os.fspath(path), mmap_mode="r"), y
