"""Samples: every probe item under every condition, style and paraphrase, as Inspect samples.

Pairing is by construction: each base item yields one sample per cell of the design, all carrying the
same `pair_id`, so any two conditions can be compared item by item.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser

from ..errors import InputError
from .frames import AXES, CueLibrary, load_cues
from .probes import ProbeSet, load_builtin, load_user_set, select
from .settings import Setting, load_settings
from .suite import LoadedSuite


def conditions_for(design: str, axes: list[str]) -> list[dict[str, str]]:
    """The cells of a design: each axis alone (`one_axis`) or every combination (`factorial`)."""
    if design == "one_axis":
        return [{axis: level} for axis in axes for level in AXES[axis]]
    return [dict(zip(axes, levels, strict=True)) for levels in itertools.product(*(AXES[a] for a in axes))]


def sample_id(suite_version: str, pair_id: str, conditions: dict[str, str], style: str, paraphrase: int) -> str:
    """A content address: stable across runs and upgrades while the content stays the same."""
    key = json.dumps([suite_version, pair_id, sorted(conditions.items()), style, paraphrase])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BuiltSuite:
    samples: list[Sample]
    probe_sets: list[ProbeSet]
    setting: Setting


def load_probe_sets(loaded: LoadedSuite) -> list[ProbeSet]:
    sets: list[ProbeSet] = []
    for spec in loaded.suite.probes:
        if spec.set == "file":
            assert spec.path is not None  # checked by the suite schema
            path = (loaded.base_dir / spec.path).resolve()
            full = load_user_set(path, name=spec.name, kind=spec.kind)
        else:
            try:
                full = load_builtin(spec.set)
            except InputError as exc:
                raise InputError(exc.detail, path=loaded.path, field="probes.set", fix=exc.fix) from exc
        chosen = select(full.items, limit=spec.limit, seed=spec.seed)
        selection: dict[str, object] = {"limit": spec.limit, "seed": spec.seed, "available": len(full.items)}
        if spec.held_out:
            selection["held_out"] = True
        sets.append(ProbeSet(full.name, chosen, full.sha256, full.source, selection))
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise InputError("two probe sets share a name", path=loaded.path, field="probes",
                         fix="give file sets distinct 'name' values")
    return sets


def build_samples(loaded: LoadedSuite) -> BuiltSuite:
    suite = loaded.suite
    settings = load_settings().settings
    if suite.setting not in settings:
        raise InputError(f"unknown setting {suite.setting!r}", path=loaded.path, field="setting",
                         fix=f"use one of {', '.join(settings)}")
    setting = settings[suite.setting]
    cues = load_cues()
    probe_sets = load_probe_sets(loaded)
    samples = list(_samples(loaded, setting, probe_sets, cues))
    return BuiltSuite(samples, probe_sets, setting)


def _samples(
    loaded: LoadedSuite, setting: Setting, probe_sets: list[ProbeSet], cues: CueLibrary
) -> Iterator[Sample]:
    suite = loaded.suite
    cells = conditions_for(suite.design, suite.axes)
    for probe_set in probe_sets:
        for item in probe_set.items:
            pair_id = f"{probe_set.name}:{item.id}"
            for conditions, style, paraphrase in itertools.product(cells, suite.styles, suite.paraphrases):
                frame = cues.render(conditions, style, paraphrase)
                yield Sample(
                    id=sample_id(suite.version, pair_id, conditions, style, paraphrase),
                    input=[
                        ChatMessageSystem(content=setting.system_message(frame)),
                        ChatMessageUser(content=setting.user_message(item.request, frame)),
                    ],
                    metadata={
                        "pair_id": pair_id,
                        "probe_set": probe_set.name,
                        "item_kind": item.kind,
                        "category": item.category,
                        "request": item.request,
                        "battery": suite.battery,
                        "conditions": dict(conditions),
                        "style": style,
                        "paraphrase": paraphrase,
                        "setting": setting.name,
                        "suite": suite.name,
                        "suite_version": suite.version,
                    },
                )
