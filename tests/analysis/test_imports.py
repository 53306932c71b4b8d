import ast
import subprocess
import sys
from pathlib import Path


def test_analysis_imports_no_app_or_model_code():
    code = (
        "import sys, analysis.report, analysis.present.html, analysis.present.plots, analysis.elo, analysis.winrate;"
        "bad = [m for m in ('arena', 'models', 'gradio', 'torch', 'diffusers') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


ANALYSIS = Path(__file__).resolve().parents[2] / "analysis"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The analysis modules ``path`` imports, at module level or inside a function (a lazy
    import is still a cycle), but not under ``if TYPE_CHECKING:`` (types only)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules}


def import_cycles(root: Path = ANALYSIS) -> list[list[str]]:
    """Every cycle of the import graph of the package at ``root`` (depth-first search)."""
    paths = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {m: _imports(p, set(paths)) - {m} for m, p in paths.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return cycles


def test_analysis_has_no_import_cycle() -> None:
    assert import_cycles() == []


def test_the_cycle_check_finds_a_lazy_cycle(tmp_path: Path) -> None:
    """The check itself can fail: two modules importing each other, one of them lazily."""
    package = tmp_path / "analysis"
    (package / "present").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "present" / "__init__.py").write_text("")
    (package / "result.py").write_text("def f():\n    from analysis.present.text import g\n")
    (package / "present" / "text.py").write_text(
        "from typing import TYPE_CHECKING\nfrom analysis import result\n"
        "if TYPE_CHECKING:\n    from analysis.result import f\n"
    )
    (package / "stats.py").write_text("from analysis.result import f\n")
    assert import_cycles(package) == [
        ["analysis.present.text", "analysis.result", "analysis.present.text"]
    ]


def test_statistics_import_no_presentation_at_module_level() -> None:
    """analysis.present reads results; a statistics module needs none of it to compute one."""
    code = (
        "import sys, analysis.study, analysis.result;"
        "bad = [m for m in sys.modules if m.startswith('analysis.present')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
