"""The README's promises: its snippets run as written, and CI runs its test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.slow
@pytest.mark.parametrize("source", _blocks("python"), ids=lambda s: s.splitlines()[0][:40])
def test_readme_python_snippets_run(source, capsys):
    exec(compile(source, "README.md", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out  # every snippet prints its results


def test_ci_runs_the_readme_test_command():
    commands = [line.strip() for block in _blocks("bash") for line in block.splitlines()]
    test_command = next(c for c in commands if "pytest" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci


def test_readme_demo_command_names_the_console_script():
    commands = [line.strip() for block in _blocks("bash") for line in block.splitlines()]
    assert any(c.endswith("skae demo") for c in commands)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'skae = "skae.cli:main"' in pyproject
