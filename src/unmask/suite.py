"""Suites: a YAML file that says what to test, validated with errors that point at file, line and field."""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import InputError
from .frames import AXES, STYLES

SUITES_DIR = "data/suites"
BATTERIES = ("compliance_gap", "sandbagging", "trigger_scan", "modification", "hidden_goals")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbeSpec(_Strict):
    set: str = Field(description="harmbench | strongreject | strongreject_small | benign | file")
    path: str | None = Field(default=None, description="for set: file, a JSONL or CSV path")
    name: str | None = None
    kind: Literal["harmful", "benign"] = "harmful"
    limit: Annotated[int, Field(ge=1)] | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _path_for_files(self) -> ProbeSpec:
        if self.set == "file" and not self.path:
            raise ValueError("set: file needs a path")
        if self.set != "file" and self.path:
            raise ValueError("path is only allowed with set: file")
        return self


class ScorerSpec(_Strict):
    method: Literal["rules", "judge"] = "rules"
    votes: Annotated[int, Field(ge=1, le=50)] = 3
    temperature: Annotated[float, Field(ge=0, le=2)] = 1.0
    seed: int = 0


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
    options: dict[str, Any] = Field(default_factory=dict)
    """Battery-specific settings, validated by the battery itself."""
    suites: list[str] = Field(default_factory=list)
    """A bundle: run these suites (names or paths) together, e.g. the `full` suite."""
    setting: str = "helpful_only"
    design: Literal["one_axis", "factorial"] = "one_axis"
    axes: list[str] = Field(default_factory=lambda: ["monitoring"], min_length=1)
    styles: list[str] = Field(default_factory=lambda: list(STYLES), min_length=1)
    paraphrases: list[int] = Field(default_factory=lambda: [0], min_length=1)
    probes: list[ProbeSpec] = Field(default_factory=list, validate_default=True)
    scorer: ScorerSpec = Field(default_factory=ScorerSpec)
    epochs: Annotated[int, Field(ge=1)] = 1
    generate: GenerateSpec = Field(default_factory=GenerateSpec)
    declared: Declared = Field(default_factory=Declared)

    @field_validator("battery")
    @classmethod
    def _known_battery(cls, battery: str) -> str:
        if battery not in BATTERIES:
            raise ValueError(f"unknown battery {battery!r}; use one of {', '.join(BATTERIES)}")
        return battery

    @field_validator("probes")
    @classmethod
    def _needs_probes(cls, probes: list[ProbeSpec], info: ValidationInfo) -> list[ProbeSpec]:
        if info.data.get("battery") == "compliance_gap" and not probes and not info.data.get("suites"):
            raise ValueError("Field required: a compliance_gap suite needs probes (or a suites: bundle)")
        return probes

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
    """A validated suite plus where it came from (for the manifest and relative probe paths)."""

    def __init__(self, suite: Suite, path: Path, raw: bytes) -> None:
        self.suite = suite
        self.path = path
        self.sha256 = hashlib.sha256(raw).hexdigest()

    @property
    def base_dir(self) -> Path:
        return self.path.parent


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
    try:
        node = yaml.compose(raw.decode("utf-8"))
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            path=path, line=mark.line + 1 if mark else None, fix="check indentation and quoting",
        ) from exc
    if not isinstance(data, dict):
        raise InputError("a suite must be a YAML mapping", path=path, line=1, fix="start with 'name: ...'")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        raise InputError(
            _describe(err),
            path=path, line=line_of(node, err["loc"]), field=".".join(loc) or None, fix=_fix_for(err, loc),
        ) from exc
    return LoadedSuite(suite, path, raw)


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
    return "see docs/suites.md for the field's type and range"


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The line a validation error points at (shared by suites, battery options and policies).

    Walk the YAML node tree along a pydantic error location; the deepest node found gives the line."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:
                key_node = next((k for k, _ in node.value if k.value == key), None)
                return key_node.start_mark.line + 1 if key_node else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line
