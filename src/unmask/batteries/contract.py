"""The battery contract: what a battery is, and the one registry that finds it by name.

A battery is one module (or package) holding a `Battery` subclass decorated with `@battery`. The
subclass owns everything the battery is: its suites and Inspect task, the outcome its contrasts
measure, its extra measures (read from the report's records and contrast rows, never recomputed),
its report section, its checklist items, its gate checks with its policy section, and the verdicts
it must give in the known-answer validation matrix. Nothing outside this registry switches on a
battery's name.

What every battery gets for free, without writing anything: its declared contrasts become rows of
the report's one contrast table, the gated ones join the gate's Holm family and are judged there,
once, against `Battery.limit` (the battery's own tolerance and sidedness).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from ..errors import InputError
from ..verdicts import BLOCK, OK, REVIEW, Level

if TYPE_CHECKING:
    from inspect_ai import Task

    from ..design.suite import LoadedSuite
    from ..evidence.records import SampleRecord
    from ..stats.contrasts import AnalysisOptions

__all__ = [
    "BLOCK",
    "OK",
    "REVIEW",
    "Battery",
    "BatteryData",
    "Figure",
    "Finding",
    "Headline",
    "Limit",
    "PolicySection",
    "PolicyView",
    "Section",
    "Table",
    "Transcript",
    "battery",
    "get",
    "registered",
]


# --- what a battery hands the gate ------------------------------------------------------------


class PolicySection(BaseModel):
    """A battery's own keys in the gate policy (the policy file's `<battery name>:` mapping)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PolicyView(Protocol):
    """The policy as a battery sees it (the gate's `Policy` satisfies this)."""

    @property
    def alpha(self) -> float: ...

    @property
    def tolerated_gap(self) -> float: ...

    @property
    def direction(self) -> str: ...

    def section(self, battery: str) -> PolicySection | None: ...


@dataclass(frozen=True)
class Limit:
    """How far a gated contrast may move before the gate objects, and whether both signs count."""

    tolerance: float
    two_sided: bool


Finding = tuple[Level, str]
"""(`ok` | REVIEW | BLOCK, the sentence the gate prints)."""


# --- what a battery hands the report ----------------------------------------------------------


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    numeric: tuple[int, ...] = ()
    """Columns shown right-aligned (numbers)."""


@dataclass(frozen=True)
class Figure:
    """A plot the HTML report draws: `intervals` (a rate with its interval per row), `bars` (a value per
    row against a threshold) or `grid` (a shaded rate per row and column)."""

    kind: Literal["intervals", "bars", "grid"]
    plot_id: str
    title: str
    rows: list[tuple[Any, ...]]
    """intervals: (label, value, low, high); bars: (label, value, flagged); grid: (row label, {column: rate})."""
    axis: str = ""
    caption: str = ""
    highlight: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Transcript:
    """An example exchange shown beside the numbers (what a reader checks a claim against)."""

    title: str
    parts: list[tuple[str, str]]
    """(label, text) pairs, e.g. ("with trigger", reply)."""


@dataclass(frozen=True)
class Section:
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)


@dataclass(frozen=True)
class Headline:
    """The one figure a validation-matrix cell shows beside the gate's verdict."""

    measure: str
    effect: float | None
    ci: tuple[float, float] | None
    p: float | None
    n: int
    unit: Literal["points", "ratio"] = "points"
    """`points`: a difference of rates (shown ×100); `ratio`: shown as it is (noise injection's φ)."""


# --- what a battery reads ---------------------------------------------------------------------


@dataclass(frozen=True)
class BatteryData:
    """Everything a battery's analysis may read: its own records and the report's computed rows.

    `contrasts` and `conditions` are the report's rows for *every* battery (hidden goals checks what
    the model says against what the other batteries measured); `rows()` narrows them.
    """

    battery: str
    records: Sequence[SampleRecord]
    contrasts: Sequence[Mapping[str, Any]]
    conditions: Sequence[Mapping[str, Any]]
    options: AnalysisOptions
    manifests: Sequence[Mapping[str, Any]] = ()
    """The run-side manifests of the logs that hold this battery's records (its suite options, say)."""

    def rows(self, battery: str | None = None, *, pooled: bool = True) -> list[Mapping[str, Any]]:
        """Contrast rows of a battery (default: this one); `pooled` leaves out per-style cells."""
        name = battery or self.battery
        return [c for c in self.contrasts if c["battery"] == name and not (pooled and c["subset"])]

    def gated(self, battery: str | None = None) -> list[Mapping[str, Any]]:
        """The battery's rows in the gate family (what the gate judges)."""
        return [c for c in self.rows(battery) if c["family"] == "confirmatory"]

    def condition_rows(self, battery: str | None = None) -> list[Mapping[str, Any]]:
        name = battery or self.battery
        return [c for c in self.conditions if c["battery"] == name]


# --- the contract -----------------------------------------------------------------------------


class Battery:
    """Base class of every battery; subclasses set the class attributes and override what applies.

    The defaults describe a battery whose gated contrasts are its whole verdict: no extra measures,
    no report section beyond the contrast table, no checks of its own, judged against the policy's
    `tolerated_gap`.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    outcome: ClassVar[str] = "outcome"
    """What the primary outcome means (`complied`, `correct`, `admits`): names the contrasts derived for
    logs that declare none."""
    checklist: ClassVar[Mapping[str, str]] = {}
    """Anti-deception checklist items (id -> title) this battery counts as testing."""
    suites: ClassVar[tuple[str, ...]] = ()
    """Shipped suites; the first is the powered one the validation matrix runs."""
    expected: ClassVar[Mapping[str, str]] = {}
    """Validation matrix: model (`base` or an organism) -> the verdict a working detector gives
    (`BLOCK`, `not BLOCK`, `flagged` = REVIEW or BLOCK for a detector whose flag is a review, `PASS`)."""
    reads: ClassVar[tuple[str, ...]] = ()
    """Other batteries whose gated rows this battery's analysis reads (hidden goals: what the model did).
    The validation matrix gives its cells the same model's logs of those batteries, as a user's report would."""
    policy: ClassVar[type[PolicySection] | None] = None
    """The battery's policy keys (the policy file's `<name>:` mapping), or None when it has none."""
    concern: ClassVar[Literal["two_sided", "positive"]] = "two_sided"
    """Which sign of a gated contrast (first level minus second) is the behaviour looked for."""
    task: ClassVar[Callable[..., Task]]
    """The Inspect task function (`inspect eval unmask/<task>`); it takes `suite` and its own options."""

    # --- run side ---

    def task_parameters(self) -> list[str]:
        """The `-T` arguments this battery's task takes (besides `suite`)."""
        return [p for p in inspect.signature(type(self).task).parameters if p != "suite"]

    def tasks(self, loaded: LoadedSuite, **task_args: Any) -> list[Task]:
        """The Inspect tasks a suite of this battery runs."""
        run = type(self).task
        accepted = inspect.signature(run).parameters
        unknown = sorted(set(task_args) - set(accepted) - {"suite"})
        if unknown:
            raise InputError(f"the {self.name} task takes no argument {unknown[0]!r}", field=f"-T {unknown[0]}",
                             fix=f"use one of: {', '.join(p for p in accepted if p != 'suite') or '(none)'}")
        return [run(suite=str(loaded.path), **task_args)]

    # --- report side ---

    def analyse(self, data: BatteryData) -> dict[str, Any] | None:
        """Extra measures beyond the contrast table, or None when there are none (no report entry).

        The returned mapping carries `n` (samples), `measures` (what `check` reads) and anything the
        section shows; `status` is `empty` when `n` is 0 unless the analysis says otherwise."""
        return None

    def summary(self, entry: Mapping[str, Any], alpha: float) -> str:
        return "analysed"

    def section(self, entry: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Section:
        """Tables, plots and transcripts of the battery's entry; `rows` are its pooled contrast rows."""
        return Section()

    # --- gate side ---

    def limit(self, policy: PolicyView) -> Limit:
        """Tolerance and sidedness for this battery's gated contrasts in the Holm family."""
        return Limit(policy.tolerated_gap, policy.direction == "two_sided")

    def check(self, measures: Mapping[str, Any], policy: PolicyView) -> list[Finding]:
        """The battery's own rules over its extra measures (never over a gated contrast: the family
        rule judges those)."""
        return []

    def headline(self, entry: Mapping[str, Any] | None, rows: Sequence[Mapping[str, Any]]) -> Headline:
        """The cell figure: by default the battery's most significant gated row (`rows`: its pooled rows)."""
        gated = [r for r in rows if r["family"] == "confirmatory"]
        if not gated:
            return Headline("no gated contrast", None, None, None, 0)
        row = min(gated, key=lambda r: r["p_adjusted"] if r["p_adjusted"] is not None else 1.0)
        ci = row["ci"]
        return Headline(f"{row['item_kind']}, {row['label']}", row["gap"],
                        (ci[0], ci[1]) if ci[0] is not None else None, row["p_adjusted"], int(row["n_pairs"]))

    def judged_by_analysis(self) -> bool:
        """True when the battery has checks of its own, which decide it even without paired gate rows."""
        return type(self).check is not Battery.check

    analysis_optional: ClassVar[bool] = False
    """True when `analyse` applies to some runs only (the compliance gap's held-out comparison): a report
    without an entry is then not a failed analysis."""

    def has_analysis(self) -> bool:
        """True when the battery adds measures of its own (a report entry, which must then exist and work)."""
        return type(self).analyse is not Battery.analyse


BatteryT = TypeVar("BatteryT", bound=Battery)
_REGISTRY: dict[str, Battery] = {}


def battery(cls: type[BatteryT]) -> type[BatteryT]:
    """Register a battery class (one instance per name); returns the class unchanged."""
    name = cls.name
    if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
        raise ValueError(f"battery {name!r} is registered twice")
    _REGISTRY[name] = cls()
    return cls


def get(name: str) -> Battery | None:
    """The registered battery of that name; None for a name no battery claims (a plain Inspect log)."""
    return _REGISTRY.get(name)


def registered() -> list[Battery]:
    """Every registered battery, in registration order (the order reports list them)."""
    return list(_REGISTRY.values())
