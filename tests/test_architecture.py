"""The layout's promises, checked statically: no import cycles, no importlib detours, private modules stay in
their package, battery names are switched on only by the battery itself, and the black-box core imports
without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from unmask.batteries import registered

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "unmask"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """unmask modules imported by this one (an `import a.b` or `from a import b` names the deepest module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in MODULES and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in MODULES and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for module in GRAPH:
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_importlib_detours() -> None:
    """Dependencies show in the import graph: nothing imports a module by a computed name."""
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                assert called not in ("import_module", "__import__"), f"{name} imports by name"


def test_private_modules_stay_in_their_package() -> None:
    for name, targets in GRAPH.items():
        for target in targets:
            private = [i for i, part in enumerate(target.split(".")) if part.startswith("_")
                       and part not in ("__init__", "__main__")]
            if private:
                owner = ".".join(target.split(".")[: private[0]])
                assert name == owner or name.startswith(owner + "."), f"{name} imports private {target}"


def _top_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported (not inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_the_white_box_stays_out_of_the_black_box_core() -> None:
    """`unmask.whitebox` needs torch: only white-box modules and command-line entry points may import it, and a
    white-box battery only inside the function that runs a unit (so it registers and is analysed without torch)."""
    for name, targets in GRAPH.items():
        if name.startswith(("unmask.whitebox", "unmask.cli")):
            continue
        into = [t for t in targets if t.startswith("unmask.whitebox")]
        if name.startswith("unmask.batteries."):
            eager = [m for m in _top_level_imports(MODULES[name])
                     if m.startswith("unmask.whitebox") or m.lstrip(".").split(".")[0] == "whitebox"]
            assert not eager, f"{name} imports it at import"
            continue
        assert not into, f"{name} imports the white box"


def _owner(module: str, battery: str) -> bool:
    return module.split(".")[:3] == ["unmask", "batteries", battery]


@pytest.mark.parametrize("battery", [b.name for b in registered()])
def test_battery_names_are_switched_on_only_by_the_battery(battery: str) -> None:
    """No `x == "<battery>"`, `x in ("<battery>", ...)` or `{"<battery>": ...}` outside the battery's own module."""
    offenders = []
    for name, path in MODULES.items():
        if _owner(name, battery):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            compared: list[ast.expr] = []
            if isinstance(node, ast.Compare):
                compared = [node.left, *node.comparators]
                for expr in list(compared):
                    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
                        compared += expr.elts
            elif isinstance(node, ast.Dict):
                compared = [k for k in node.keys if k is not None]
            elif isinstance(node, ast.MatchValue):
                compared = [node.value]
            if any(isinstance(e, ast.Constant) and e.value == battery for e in compared):
                offenders.append(f"{name}:{getattr(node, 'lineno', '?')}")
    assert offenders == []


def test_every_battery_is_one_module_or_package_behind_the_contract() -> None:
    for battery in registered():
        module = type(battery).__module__
        assert module.split(".")[:3] == ["unmask", "batteries", battery.name], module
        assert battery.suites and all(isinstance(s, str) for s in battery.suites)


def test_black_box_core_imports_and_reports_without_torch(tmp_path: Path) -> None:
    """With torch, transformers and peft made unimportable, the CLI, tasks, report and gate still work."""
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "peft"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import unmask._registry, unmask.cli, unmask.gate, unmask.report
from unmask.batteries import tasks_for_suite
from unmask.evidence.logs import read_evidence
from unmask.report import build_report
from unmask.testing.synthetic import SyntheticDesign, write_synthetic_logs
tasks_for_suite("full_quick", scorer="rules")  # the offline classifier is the torch extra
paths = write_synthetic_logs(SyntheticDesign(harmful_items=6, benign_items=2), {str(tmp_path)!r})
build_report(read_evidence(paths))
print("ok", sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "peft")))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok []"


def test_layout_reserves_the_homes_the_design_names() -> None:
    """The stages docs/design.md names exist as packages; reserved ones are named there."""
    design = (SRC.parent / "docs" / "design.md").read_text(encoding="utf-8")
    stages = defaultdict(list)
    for name in MODULES:
        parts = name.split(".")
        if len(parts) > 2:
            stages[parts[1]].append(name)
    for stage in ("design", "scoring", "models", "evidence", "stats", "batteries", "report", "gate", "organisms",
                  "validation", "cli"):
        assert stage in stages and f"`{stage}/`" in design
    for reserved in ("reasoning", "whitebox", "audit"):
        assert f"`{reserved}/`" in design


def test_no_battery_imports_another() -> None:
    """Batteries meet only through the contract (a battery that reads another's rows says so in `reads`)."""
    names = {b.name for b in registered()}
    for name, targets in GRAPH.items():
        parts = name.split(".")
        if parts[:2] != ["unmask", "batteries"] or len(parts) < 3 or parts[2] not in names:
            continue
        others = [t for t in targets if t.split(".")[:2] == ["unmask", "batteries"] and len(t.split(".")) > 2
                  and t.split(".")[2] in names - {parts[2]}]
        assert others == [], f"{name} imports {others}"


@pytest.mark.parametrize("module", ["unmask.organisms.known_data", "unmask.whitebox.noise_sandbagging",
                                    "unmask.cli.whitebox", "unmask.batteries.noise_injection"])
def test_a_module_imported_first_does_not_meet_a_partly_initialised_one(module: str) -> None:
    """The organisms import the sandbagging battery's items, which registers every battery: none of those may
    need the organisms at import time (`unmask whitebox noise-grid` once failed this way)."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
