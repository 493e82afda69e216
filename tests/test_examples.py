"""Every gallery example runs to the end (with few epochs)."""

import runpy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from threadpoolctl import threadpool_limits

# The examples run with 2 epochs (SKAE_EXAMPLE_EPOCHS), too few for some models
# to leave the constant predictor: skae's collapse check warns about those.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("SKAE_EXAMPLE_EPOCHS", "2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # anything an example saves lands here
    try:
        # One native thread: OpenMP threads spinning against other test
        # workers slowed t-SNE down 8x (measured 25 s -> 3 s for 500 digits).
        with threadpool_limits(limits=1):
            runpy.run_path(str(path), run_name="__main__")
        assert plt.get_fignums(), f"{path.name} drew no figure"
    finally:
        plt.close("all")


def test_examples_are_found():
    assert len(EXAMPLES) >= 3
