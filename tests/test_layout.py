"""docs/design.md's import rules, checked on the real modules in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def modules_of(package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__main__.py"
    )


def loaded_after_import(names: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_analysis_imports_neither_arena_models_gradio_nor_torch() -> None:
    loaded = loaded_after_import(modules_of("analysis"))
    assert not loaded & {"arena", "models", "gradio", "torch", "diffusers"}


def test_arena_runs_without_torch() -> None:
    loaded = loaded_after_import(modules_of("arena"))
    assert "gradio" in loaded  # the app really was imported
    assert not loaded & {"torch", "diffusers", "transformers"}


@pytest.mark.parametrize("path", sorted((ROOT / "models").rglob("*.py")), ids=str)
def test_models_never_imports_arena_or_analysis(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        assert not any(n.split(".")[0] in {"arena", "analysis"} for n in names), path
