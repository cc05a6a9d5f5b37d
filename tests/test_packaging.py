"""Packaging: environment.yml and pyproject.toml pin the same versions; README commands exist."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)\s*$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"not pinned to one version: {requirement!r}"
        pins[_canonical(match[1])] = match[2]
    return pins


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def _environment_pip_requirements() -> list[str]:
    sections = [entry["pip"] for entry in _environment()["dependencies"] if isinstance(entry, dict)]
    assert len(sections) == 1, "environment.yml needs exactly one pip: section"
    return sections[0]


def test_pyproject_pins_every_dependency() -> None:
    project = _pyproject()["project"]
    _pins(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        _pins(extra)


def test_environment_yml_pins_match_pyproject() -> None:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    expected = _pins(project["dependencies"] + extras["test"] + extras["bench"])
    assert _pins(_environment_pip_requirements()) == expected


def test_environment_yml_python_matches_requires_python() -> None:
    conda = [entry for entry in _environment()["dependencies"] if isinstance(entry, str)]
    assert "python=3.11" in conda
    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.12"


def test_readme_commands_are_makefile_targets_and_ci_runs_the_tests() -> None:
    readme = (REPO / "README.md").read_text()
    makefile = (REPO / "Makefile").read_text()
    fence = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert fence and fence[1].split("\n")[:2] == ["make book", "make test"]
    for target in ("book", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("make test")
    assert "'.[test,bench]'" in makefile, "make installs the extras the book and tests use"
