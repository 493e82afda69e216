"""Reading the user's own images into arrays the estimators take."""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np

__all__ = ["load_image_folder"]

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
