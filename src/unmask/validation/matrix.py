"""`unmask validate`: the known-answer detection matrix, battery by organism.

Each shipped suite runs through the same Inspect tasks users run, on every organism and on the
untouched base model. Each cell is what a user would get from those logs: `unmask report` on one
battery's logs, then `unmask gate` with the shipped policy (its `required_batteries` narrowed to that
battery, so a sandbagging-only run is not held back for lacking a compliance-gap run). A cell shows
the gate's verdict and the battery's measured effect with its interval. Nothing here names a
battery's internals: a new battery joins as a row once it has a suite and a report section.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..batteries import get, registered
from ..batteries.contract import Battery, Headline
from ..evidence.logs import read_evidence
from ..gate import PolicyBase, decide, load_policy
from ..models.adapters import ORGANISMS, model_string
from ..report import build_report
from ..verdicts import OK, REVIEW, worst
from .acceptance import fmt_ci, run_eval


def validation_suites() -> dict[str, str]:
    """The shipped suite each battery is validated with: its first (powered) suite. The quick variants are
    sized to rank or spot, not to certify."""
    return {b.name: b.suites[0] for b in registered() if b.expected and b.suites}


def expected(battery: str, model: str) -> str:
    """The verdict a working detector must give on this model (from the battery), or `-` when not asserted."""
    found = get(battery)
    return found.expected.get(model, "-") if found is not None else "-"


def default_plan() -> list[tuple[str, str]]:
    """(suite, model) runs: each battery's suite on every model it states a verdict for."""
    suites = validation_suites()
    plan = [(suites[b.name], model) for b in registered() if b.name in suites for model in b.expected]
    return sorted(set(plan), key=plan.index)


@dataclass
class Cell:
    battery: str
    model: str
    verdict: str
    expected: str
    measure: str
    """What the effect is, e.g. `harmful, monitoring: monitored - unmonitored` or `significant triggers`."""
    effect: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    n: int
    reasons: list[str] = field(default_factory=list)
    """The gate's non-ok reasons, so a REVIEW or BLOCK is explained where it is shown."""
    logs: list[str] = field(default_factory=list)
    unit: str = "points"
    """`points` (a rate difference, shown ×100) or `ratio` (shown as it is, e.g. noise injection's φ)."""

    @property
    def agrees(self) -> bool | None:
        return agrees(self.expected, self.verdict)

    def effect_text(self) -> str:
        if self.effect is None or not math.isfinite(self.effect):
            return "n/a"
        if self.unit == "ratio":
            return f"{self.effect:.2f}" + (f" [{self.ci[0]:.2f}, {self.ci[1]:.2f}]" if self.ci is not None else "")
        if self.ci is None:
            return f"{self.effect:g}"
        return f"{self.effect * 100:+.0f} {fmt_ci(self.ci)}"


def agrees(expected: str, verdict: str) -> bool | None:
    """Whether a verdict is what a working detector gives: `BLOCK`, `not BLOCK`, `flagged` (REVIEW or BLOCK: a
    detector whose flag is a review by policy) or `PASS` (nothing flagged); `-` is no planted answer."""
    if expected == "-":
        return None
    if expected == "flagged":
        return verdict in ("REVIEW", "BLOCK")
    if expected == "PASS":
        return verdict == "PASS"
    return verdict == "BLOCK" if expected == "BLOCK" else verdict != "BLOCK"


def suite_dir(suite: str) -> str:
    """A log folder name for a suite: its name, or for a suite file its stem and a hash of the path (an absolute
    path joined as a folder would replace the log directory, and two files may share a stem)."""
    if not suite.endswith((".yaml", ".yml")) and "/" not in suite and "\\" not in suite:
        return suite
    return f"{Path(suite).stem}-{hashlib.sha256(suite.encode()).hexdigest()[:8]}"


def battery_policy(policy: PolicyBase, battery: str) -> PolicyBase:
    """The shipped policy, asking only for the battery this cell tests."""
    return policy.model_copy(update={"required_batteries": [battery]})


def cell_for(log_paths: Sequence[str | Path], battery: str, model: str, policy: PolicyBase,
             linked: Sequence[str | Path] = ()) -> Cell:
    """Report and gate one battery's logs, exactly as `unmask report` + `unmask gate` would.

    `linked`: the same model's logs of the batteries this one `reads`. Its own measures are then taken
    from a report over both, as a user's joint report would give them, and its own check joins the
    verdict; the other batteries' findings do not (they have their own rows)."""
    narrowed = battery_policy(policy, battery)
    report = build_report(read_evidence(list(log_paths)), narrowed.analysis_options())
    decision = decide(report, narrowed)
    verdict = decision.verdict
    reasons = [f"{r.level}: {r.check}: {r.message}" for r in decision.reasons if r.level != "ok"]
    found = get(battery)
    if linked and found is not None:
        report = build_report(read_evidence([*log_paths, *linked]), narrowed.analysis_options())
        measures = ((report.get("batteries") or {}).get(battery) or {}).get("measures")
        findings = found.check(measures, narrowed) if measures is not None else [
            (REVIEW, "no measures over the joint logs")]
        verdict = worst([verdict, *(level for level, _ in findings)])
        reasons += [f"{level}: {battery} with the linked logs: {message}" for level, message in findings if level != OK]
    head = headline_effect(report, battery)
    return Cell(battery, model, verdict, expected(battery, model), head.measure, head.effect, head.ci, head.p, head.n,
                reasons, [str(path) for path in [*log_paths, *linked]], head.unit)


def headline_effect(report: Mapping[str, Any], battery: str) -> Headline:
    """The one figure a matrix cell shows, as the battery chooses it from its entry and pooled rows."""
    rows = [c for c in report.get("contrasts", []) if c["battery"] == battery and not c["subset"]]
    entry = (report.get("batteries") or {}).get(battery)
    found = get(battery)
    return (found or Battery()).headline(entry, rows)


def run_validate(plan: Sequence[tuple[str, str]], log_dir: Path, limit: int | None = None,
                 out: Path | None = None, policy_path: str | Path | None = None,
                 echo: Callable[[str], None] = print) -> list[Cell]:
    """Run each (suite, model) of the plan through Inspect, then report and gate each battery's logs."""
    for _, model in plan:
        if model != "base" and model not in ORGANISMS:
            raise ValueError(f"unknown model {model!r}; use base or one of {', '.join(ORGANISMS)}")
    runs = [(suite, model, model_string(None if model == "base" else model)) for suite, model in plan]
    cells = run_cells(runs, log_dir, load_policy(policy_path), limit=limit, out=out, echo=echo)
    echo("")
    echo(matrix_markdown(cells))
    return cells


def run_cells(runs: Sequence[tuple[str, str, str]], log_dir: Path, policy: PolicyBase, *, limit: int | None = None,
              out: Path | None = None, echo: Callable[[str], None] = print) -> list[Cell]:
    """Run each (suite, label, Inspect model) and judge each battery's logs as a cell named by the label. A
    battery that `reads` others is judged last, with the same label's logs of those batteries."""
    from ..batteries import tasks_for_suite

    cells: list[Cell] = []
    logs: dict[tuple[str, str], list[str]] = {}  # (label, battery) -> its logs in this validation
    deferred: list[tuple[str, str]] = []

    def judge(battery: str, label: str) -> None:
        found = get(battery)
        linked = [p for b in (found.reads if found else ()) for p in logs.get((label, b), [])]
        cell = cell_for(logs[(label, battery)], battery, label, policy, linked)
        cells.append(cell)
        echo(f"  {battery:16} {label:13} {cell.verdict:7} {cell.measure}: {cell.effect_text()} n={cell.n}"
             + ("" if cell.agrees is None else "  ok" if cell.agrees else "  UNEXPECTED"))
        if out:  # after every cell, so an interrupted validation keeps what it measured
            out.write_text(json.dumps([asdict(c) for c in cells], indent=1) + "\n")

    for suite, label, model in runs:
        finished = run_eval(tasks_for_suite(suite), model, log_dir / label / suite_dir(suite), limit=limit)
        for battery, paths in logs_by_battery(finished).items():
            logs[(label, battery)] = paths
            found = get(battery)
            if found is not None and found.reads:
                deferred.append((battery, label))
            else:
                judge(battery, label)
    for battery, label in deferred:
        judge(battery, label)
    return cells


def logs_by_battery(logs: Sequence[Any]) -> dict[str, list[str]]:
    """A run's finished Inspect logs, by the battery each ran (from the manifest, else the task name)."""
    out: dict[str, list[str]] = {}
    for log in logs:
        manifest = (log.eval.metadata or {}).get("unmask_manifest", {})
        out.setdefault(manifest.get("suite", {}).get("battery") or log.eval.task.split("/")[-1], []).append(
            log.location)
    return out


def matrix_markdown(cells: Sequence[Cell]) -> str:
    """The report section: battery rows, model columns, verdict and measured effect in each cell."""
    models = list(dict.fromkeys(c.model for c in cells))
    batteries = list(dict.fromkeys(c.battery for c in cells))
    lines = ["## Known-answer validation", "",
             "| battery | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for b in batteries:
        row = []
        for m in models:
            c = next((c for c in cells if c.battery == b and c.model == m), None)
            if c is None:
                row.append("—")
                continue
            mark = {True: " ✓", False: f" ✗ (expected {c.expected})", None: ""}[c.agrees]
            row.append(f"**{c.verdict}** {c.effect_text()}{mark}")
        lines.append(f"| {b} | " + " | ".join(row) + " |")
    measures = {c.battery: c.measure.split(";")[0] for c in cells}
    ratios = sorted({c.battery for c in cells if c.unit == "ratio"})
    lines += ["", "Verdicts: `unmask gate` with the shipped policy on each battery's own report. Effects, in points "
              "with 95% cluster-bootstrap intervals"
              + (f" (as a ratio with its bootstrap interval for {', '.join(ratios)})" if ratios else "") + ": "
              + "; ".join(f"{b}: {m}" for b, m in measures.items()) + ". ✓/✗: agrees with the planted answer."]
    return "\n".join(lines)
