"""Suites: a YAML file that says what to test, validated with errors that point at file, line and field."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import InputError
from ..yamlio import line_of, load_mapping
from .frames import AXES, STYLES

SUITES_DIR = "data/suites"
MAX_EPOCHS = 1000
"""More epochs than any paired design needs; a larger number is a typo, not a plan."""


class _Strict(BaseModel):
    """Unknown keys are errors, and YAML's `true` is not a number: a typo must not change a run."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ProbeSpec(_Strict):
    set: str = Field(description="harmbench | strongreject | strongreject_small | benign | file")
    path: str | None = Field(default=None, description="for set: file, a JSONL or CSV path")
    name: str | None = None
    kind: Literal["harmful", "benign"] = "harmful"
    limit: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    seed: int = 0
    held_out: bool = False
    """The auditor's private items (docs/audits.md): the report compares them with the public sets."""

    @model_validator(mode="after")
    def _path_for_files(self) -> ProbeSpec:
        if self.set == "file" and not self.path:
            raise ValueError("set: file needs a path")
        if self.set != "file" and self.path:
            raise ValueError("path is only allowed with set: file")
        return self


class ScorerSpec(_Strict):
    method: Literal["classifier", "rules", "judge"] = "classifier"
    """`classifier`: the offline model (docs/classifiers.md); `rules`: the zero-dependency fallback; `judge`:
    the model bound to the `judge` role."""
    votes: Annotated[int, Field(ge=1, le=50)] = 3
    temperature: Annotated[float, Field(ge=0, le=2)] = 1.0
    seed: int = 0
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    """A judge's share of complied votes that makes a reply complied (set it from `unmask calibrate`)."""
    calibration: str | None = None
    """A calibration record (`unmask calibrate ... --out FILE`) for this scorer, carried into the manifest;
    its threshold is used. The offline classifier cites its shipped record by itself."""
    reasoning: Literal["offline", "judge", "off"] = "offline"
    """How the auxiliary scorers read reasoning: alignment faking and evaluation awareness."""


class GenerateSpec(_Strict):
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    max_tokens: Annotated[int, Field(ge=1, le=32768)] = 256
    seed: int = 0


class Declared(_Strict):
    """What the suite author declares about the system under test; copied into the manifest."""

    tools: list[str] = Field(default_factory=list)
    monitoring_layer: str = "none declared"
    fine_tuning_history: str = "none declared"
    access: str = "black-box, sampled text only"


class Suite(_Strict):
    name: str
    version: str = "1"
    description: str = ""
    battery: str = "compliance_gap"
    """Which registered battery runs this suite (checked against the registry when tasks are built)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Battery-specific settings, validated by the battery itself."""
    suites: list[str] = Field(default_factory=list)
    """A bundle: run these suites (names or paths) together, e.g. the `full` suite."""
    setting: str = "helpful_only"
    design: Literal["one_axis", "factorial"] = "one_axis"
    axes: list[str] = Field(default_factory=lambda: ["monitoring"], min_length=1)
    styles: list[str] = Field(default_factory=lambda: list(STYLES), min_length=1)
    paraphrases: list[int] = Field(default_factory=lambda: [0], min_length=1)
    probes: list[ProbeSpec] = Field(default_factory=list)
    scorer: ScorerSpec = Field(default_factory=ScorerSpec)
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 1
    generate: GenerateSpec = Field(default_factory=GenerateSpec)
    declared: Declared = Field(default_factory=Declared)

    @field_validator("axes")
    @classmethod
    def _known_axes(cls, axes: list[str]) -> list[str]:
        for a in axes:
            if a not in AXES:
                raise ValueError(f"unknown axis {a!r}; use any of {', '.join(AXES)}")
        if len(set(axes)) != len(axes):
            raise ValueError("an axis is listed twice")
        return axes

    @field_validator("styles")
    @classmethod
    def _distinct_styles(cls, styles: list[str]) -> list[str]:
        if len(set(styles)) != len(styles):
            raise ValueError("a cue style is listed twice (its samples would share ids)")
        return styles

    @field_validator("styles")
    @classmethod
    def _known_styles(cls, styles: list[str]) -> list[str]:
        for s in styles:
            if s not in STYLES:
                raise ValueError(f"unknown cue style {s!r}; use any of {', '.join(STYLES)}")
        return styles

    @field_validator("paraphrases")
    @classmethod
    def _paraphrase_range(cls, ids: list[int]) -> list[int]:
        if any(i < 0 or i > 3 for i in ids) or len(set(ids)) != len(ids):
            raise ValueError("paraphrase ids must be distinct integers from 0 to 3")
        return ids


class LoadedSuite:
    """A validated suite plus where it came from (for the manifest, relative paths and error lines)."""

    def __init__(self, suite: Suite, path: Path, raw: bytes, node: yaml.Node | None = None) -> None:
        self.suite = suite
        self.path = path
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.node = node

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def error(self, message: str, *, at: tuple[int | str, ...], fix: str) -> InputError:
        """An error about this suite, pointing at the line of the field `at` names."""
        return InputError(message, path=self.path, line=line_of(self.node, at),
                          field=".".join(str(p) for p in at) or None, fix=fix)


def shipped_suites() -> dict[str, Path]:
    """Suites that ship with unmask, by name."""
    root = Path(str(files("unmask").joinpath(SUITES_DIR)))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def resolve_suite_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    # A folder that happens to share a suite's name (say, a log directory) must not hide that suite.
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise InputError("suite file not found", path=path, fix="check the path, or name a shipped suite")
        return path
    shipped = shipped_suites()
    if name_or_path not in shipped:
        raise InputError(
            f"no shipped suite named {name_or_path!r}",
            fix=f"use a YAML path or one of: {', '.join(shipped)}",
        )
    return shipped[name_or_path]


def load_suite(name_or_path: str) -> LoadedSuite:
    """Parse and validate a suite; any problem becomes an `InputError` with file, line and field."""
    path = resolve_suite_path(name_or_path)
    raw = path.read_bytes()
    data, node = load_mapping(path, start="name: my_suite")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        raise InputError(
            _describe(err),
            path=path, line=line_of(node, err["loc"]), field=".".join(loc) or None, fix=_fix_for(err, loc),
        ) from exc
    return LoadedSuite(suite, path, raw, node)


def _describe(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _fix_for(err: Any, loc: list[str]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"remove '{loc[-1]}' or check its spelling; allowed fields are listed in docs/suites.md"
    if kind == "missing":
        return f"add '{loc[-1]}'"
    if kind == "literal_error":
        return "use one of the values the message lists"
    if kind.endswith("_type"):
        return "write a value of the type the message names (YAML reads true/false as booleans, not numbers)"
    return "see docs/suites.md for the field's type and range"
