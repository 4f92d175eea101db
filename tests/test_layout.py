"""The package layout is the path of a run: config → data → featurize → contenders → execute →
record → analysis. A module imports only from its own stage or earlier ones (and the shared
leaves: errors, locate, catalogue); the entry points (cli, run, replay, console) sit on top."""

from __future__ import annotations

import ast
from pathlib import Path

import treeline

PACKAGE = Path(treeline.__file__).parent
STAGES = ("config", "data", "featurize", "contenders", "execute", "record", "analysis")
LEAVES = ("errors", "locate", "catalogue")
ENTRY = (
    "cli",
    "run",
    "scheduler",
    "replay",
    "acceptance",
    "advise",
    "console",
    "pytest_plugin",
    "__main__",
    "__init__",
)


def _stage(module: str) -> int:
    """-1 for shared leaves, the stage's index, len(STAGES) for entry points."""
    first = module.split(".")[1] if "." in module else ""
    if first in LEAVES:
        return -1
    if first in STAGES:
        return STAGES.index(first)
    return len(STAGES)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, n) for n in names if n.startswith("treeline.")]
    return out


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        out.append((path, ".".join(rel.parts).removesuffix(".__init__")))
    return out


def test_no_import_runs_back_up_the_path() -> None:
    back = []
    for path, module in _modules():
        here = _stage(module)
        for line, target in _imports(path, module):
            if _stage(target) > here:
                back.append(f"{module}:{line} imports {target}")
    assert back == []


def test_every_module_sits_in_a_stage_or_is_a_leaf_or_an_entry_point() -> None:
    tops = {m.split(".")[1] for _, m in _modules() if "." in m}
    assert tops <= set(STAGES) | set(LEAVES) | set(ENTRY), tops - set(STAGES)


def test_the_check_catches_an_import_back_up(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from treeline.record.store import Tracker\n")
    assert [_stage(t) for _, t in _imports(bad, "treeline.data.x")] == [STAGES.index("record")]
    assert _stage("treeline.data.x") < STAGES.index("record")


def _graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (anywhere in it, lazy imports included)."""
    modules = dict((m, p) for p, m in _modules())
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from treeline.x import y`: y may be a module
                    sub = f"{node.module}.{alias.name}"
                    out.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        graph[module] = {t for t in out if t in modules and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle() -> None:
    """A circle inside a stage (supervise ↔ warm was one) means neither module can be read,
    tested or replaced alone; lazy imports count, they only hide it."""
    assert circles(_graph()) == []


def test_the_check_catches_an_import_circle() -> None:
    graph = {"t.a": {"t.b"}, "t.b": {"t.c"}, "t.c": {"t.a"}, "t.d": {"t.a"}}
    assert circles(graph) == [["t.a", "t.b", "t.c"]]
