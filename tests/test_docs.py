"""The documentation builds without warnings (examples run in tests/test_examples.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",  # the examples themselves run in test_examples.py
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "html" / "api.html").exists()
    api = (tmp_path / "html" / "api.html").read_text()
    import skae

    for name in skae.__all__:
        if not name.startswith("_"):
            assert name in api


def test_docstrings_have_no_unfilled_fragments():
    import inspect
    import re

    import skae

    for name in skae.__all__:
        obj = getattr(skae, name)
        if inspect.isclass(obj) and obj.__doc__:
            assert not re.findall(r"\{[a-z_]+(:\w+)?\}", obj.__doc__), name
    doc = skae.ConvDenoisingAE.__doc__
    assert "channels : int or tuple of int, default=(32, 16)\n" in doc
    assert "channels : int or tuple of int, default=(32, 16, 8)\n" in skae.VAE.__doc__
