"""The shape of the code, checked on every run (docs/architecture.md, "Folders and the one-way rule").

- Nothing imports against the data flow: a package imports only the packages before it.
- No import cycle between modules.
- No module over 400 lines, tests included.

Imports are read with `ast`, so nothing is executed; an import inside a function counts like one at
the top (a lazy import is still a dependency). Each failure names the file, the line and the import.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Final

from tests.support.layout import FLOW, OUTSIDE, PACKAGES, ROOT

TESTS: Final = "tests"

MAX_LINES: Final = 400
SKIPPED_DIRS: Final = frozenset({".venv", "node_modules", "__pycache__", ".git", ".pxstream"})


def allowed_imports(package: str) -> frozenset[str]:
    """The packages `package` may import besides itself."""
    if package in OUTSIDE:
        return frozenset(FLOW) | OUTSIDE
    if package == TESTS:
        return PACKAGES
    return frozenset(FLOW[: FLOW.index(package)])


def python_files(root: Path) -> Iterator[Path]:
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                yield Path(directory, name)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules(root: Path) -> dict[str, Path]:
    """Every module of the runtime packages, bench/, lab/ and tests/ by dotted name."""
    found = {}
    for path in python_files(root):
        relative = path.relative_to(root)
        if len(relative.parts) > 1 and relative.parts[0] in PACKAGES | {TESTS}:
            found[module_name(path, root)] = path
    return found


_BLOCKS: Final = ("body", "orelse", "finalbody", "handlers", "cases")


def _import_statements(
    statements: list[ast.stmt], type_checking: bool = False
) -> Iterator[tuple[ast.stmt, bool]]:
    """Every import statement among `statements` and the blocks inside them (functions, classes,
    ifs, tries...), with whether it sits under `if TYPE_CHECKING:` (never executed). Expressions
    are not walked: an import is always a statement, and this keeps the check fast."""
    for statement in statements:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement, type_checking
            continue
        guarded = isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test)
        for name in _BLOCKS:
            block = getattr(statement, name, None)
            if not block:
                continue
            for inner in block:  # handlers and match cases hold their own bodies
                inner_statements = (
                    inner.body if isinstance(inner, ast.excepthandler | ast.match_case) else [inner]
                )
                under = type_checking or (guarded and name == "body")
                yield from _import_statements(inner_statements, under)


@cache
def _imports(path: Path, root: Path) -> tuple[tuple[int, str, bool], ...]:
    """(line, absolute dotted name, under TYPE_CHECKING) of every import in a module, with
    `from a import b` as both `a` and `a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node, type_checking in _import_statements(tree.body):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, type_checking) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base, type_checking))
            found.extend((node.lineno, f"{base}.{alias.name}", type_checking) for alias in node.names)
    return tuple(found)


def imports(path: Path, root: Path, *, runtime_only: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of every import in a module; `runtime_only` leaves out the
    ones under `if TYPE_CHECKING:`."""
    for line, imported, type_checking in _imports(path, root):
        if not (runtime_only and type_checking):
            yield line, imported


def against_the_flow(root: Path = ROOT) -> list[str]:
    offences = []
    for name, path in modules(root).items():
        package = name.split(".")[0]
        allowed = allowed_imports(package)
        for line, imported in imports(path, root):
            target = imported.split(".")[0]
            if target in PACKAGES | {TESTS} and target != package and target not in allowed:
                where = path.relative_to(root).as_posix()
                offences.append(f"{where}:{line} ({package}) imports {imported} ({target})")
    return sorted(set(offences))


def _resolve(imported: str, known: dict[str, Path]) -> str | None:
    """The module an import loads: `a.b.c` is module `a.b.c`, or name `c` of module `a.b`."""
    while imported and imported not in known:
        imported = imported.rpartition(".")[0]
    return imported or None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module → modules it imports at run time, leaving out a module's own parent packages (Python
    initialises a parent before its children, so that edge is never a cycle)."""
    known = modules(root)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for _, imported in imports(path, root, runtime_only=True):
            target = _resolve(imported, known)
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_nothing_imports_against_the_flow() -> None:
    offences = against_the_flow()
    assert not offences, "imports against the data flow:\n" + "\n".join(offences)


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = [
        " ↔ ".join(component)
        + ": "
        + "; ".join(f"{a} imports {b}" for a in component for b in sorted(graph[a]) if b in component)
        for component in found
    ]
    assert not found, "import cycles:\n" + "\n".join(described)


def modules_over_the_limit(root: Path = ROOT) -> list[str]:
    too_long = []
    for path in python_files(root):
        relative = path.relative_to(root).as_posix()
        with path.open("rb") as handle:
            lines = sum(1 for _ in handle)
        if lines > MAX_LINES:
            too_long.append(f"{relative}: {lines} lines (at most {MAX_LINES}; split it by concern)")
    return sorted(too_long)


def test_no_module_is_over_400_lines() -> None:
    too_long = modules_over_the_limit()
    assert not too_long, "\n".join(too_long)


def modules_sharing_a_name(root: Path = ROOT) -> list[str]:
    """Test modules that share a file name: pytest imports them by basename (rootdir-relative
    packages are off), so the second one stops the whole suite from being collected."""
    seen: dict[str, list[str]] = {}
    for path in python_files(root / "tests"):
        if path.name.startswith("test_"):
            seen.setdefault(path.name, []).append(path.relative_to(root).as_posix())
    return sorted(", ".join(sorted(paths)) for paths in seen.values() if len(paths) > 1)


def test_no_two_test_modules_share_a_name() -> None:
    clashes = modules_sharing_a_name()
    assert not clashes, "rename one of each: " + "; ".join(clashes)


# The checks above must be able to fail: each is run here on a small tree that breaks its rule.


def test_the_flow_check_names_a_backward_import(tmp_path: Path) -> None:
    _tree(
        tmp_path, {"sinks/__init__.py": "", "sinks/w.py": "x = 1\n", "streams/a.py": "from sinks import w\n"}
    )
    assert against_the_flow(tmp_path) == [
        "streams/a.py:1 (streams) imports sinks (sinks)",
        "streams/a.py:1 (streams) imports sinks.w (sinks)",
    ]


def test_the_flow_check_refuses_bench_and_tests_in_the_product(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "bench/h.py": "from streams import a\n",  # allowed: bench uses the product
            "streams/a.py": "def f():\n    import bench.h\n",  # a lazy import counts too
            "sinks/b.py": "import tests.support.kafka\n",
            "runtime/c.py": "from schemas import topics\n",  # allowed: runtime stands on schemas
            "schemas/d.py": "from runtime import admin\n",  # but not the other way round
        },
    )
    assert against_the_flow(tmp_path) == [
        "schemas/d.py:1 (schemas) imports runtime (runtime)",
        "schemas/d.py:1 (schemas) imports runtime.admin (runtime)",
        "sinks/b.py:1 (sinks) imports tests.support.kafka (tests)",
        "streams/a.py:2 (streams) imports bench.h (bench)",
    ]


def test_the_cycle_check_finds_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "streams/__init__.py": "from streams.app import make\n",  # a parent re-exporting: no cycle
            "streams/app.py": "from streams import agents\ndef make(): pass\n",
            "streams/agents.py": "def f():\n    from streams.app import make\n",
            "streams/typed.py": "import typing\nif typing.TYPE_CHECKING:\n    import streams.app\n",
            "streams/other.py": "import streams.typed\n",
        },
    )
    assert cycles(import_graph(tmp_path)) == [["streams.agents", "streams.app"]]


def test_the_size_check_counts_every_module_outside_hidden_and_installed_folders(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "grafana/big.py": "x = 1\n" * (MAX_LINES + 1),
            "grafana/ok.py": "x = 1\n" * MAX_LINES,
            "tests/unit/test_big.py": "x = 1\n" * (MAX_LINES + 1),
            ".venv/lib/huge.py": "x = 1\n" * (MAX_LINES + 1),
        },
    )
    assert modules_over_the_limit(tmp_path) == [
        "grafana/big.py: 401 lines (at most 400; split it by concern)",
        "tests/unit/test_big.py: 401 lines (at most 400; split it by concern)",
    ]


def _tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_name_check_finds_two_test_modules_with_one_name(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "tests/unit/test_stage.py": "x = 1\n",
            "tests/integration/test_stage.py": "x = 1\n",
            "tests/unit/test_other.py": "x = 1\n",
        },
    )
    assert modules_sharing_a_name(tmp_path) == ["tests/integration/test_stage.py, tests/unit/test_stage.py"]
