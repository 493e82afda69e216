"""The package's imports: its layers hold (pyproject.toml's contract), and no cycle."""

import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    """The import graph of skae, lazy imports inside functions included."""
    return grimp.build_graph("skae", cache_dir=None)


def test_imports_follow_the_layers_of_the_contract():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
            "--no-logo",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_no_module_imports_itself_back(graph):
    cycles = [
        [module, *graph.find_shortest_chain(importer=imported, imported=module)]
        for module in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(module))
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_codec_knows_no_estimator(graph):
    assert graph.find_upstream_modules("skae._codec") == {
        "skae._diagnostics",
        "skae._version",
        "skae.noise",
    }
