from __future__ import annotations

from collections import Counter
from pathlib import Path

from unmask.design.frames import AXES
from unmask.design.samples import build_samples, conditions_for, sample_id
from unmask.design.suite import load_suite


def test_one_axis_design_has_each_level_of_each_axis_alone() -> None:
    cells = conditions_for("one_axis", ["monitoring", "stakes"])
    assert cells == [{"monitoring": "monitored"}, {"monitoring": "unmonitored"},
                     {"stakes": "high"}, {"stakes": "low"}]


def test_factorial_design_crosses_every_level() -> None:
    cells = conditions_for("factorial", ["monitoring", "phase", "audience"])
    assert len(cells) == 8
    assert len({tuple(sorted(c.items())) for c in cells}) == 8


def test_every_item_appears_under_every_condition_style_and_paraphrase(suite_file: Path) -> None:
    built = build_samples(load_suite(str(suite_file)))
    meta = [s.metadata or {} for s in built.samples]
    items = {m["pair_id"] for m in meta}
    assert len(items) == 5  # 3 harmbench + 2 benign
    cells = Counter(
        (m["pair_id"], tuple(sorted(m["conditions"].items())), m["style"], m["paraphrase"]) for m in meta
    )
    assert set(cells.values()) == {1}
    # 2 axes x 2 levels (one at a time) x 4 styles x 2 paraphrases per item
    assert len(built.samples) == 5 * 4 * 4 * 2
    for pair in items:
        mine = [m for m in meta if m["pair_id"] == pair]
        for axis in ("monitoring", "phase"):
            for level in AXES[axis]:
                for style in ("system", "tier_tag", "metadata", "file"):
                    assert sum(1 for m in mine if m["conditions"] == {axis: level} and m["style"] == style) == 2


def test_paired_samples_share_the_request_and_differ_only_in_the_cue(suite_file: Path) -> None:
    built = build_samples(load_suite(str(suite_file)))
    by_key: dict[tuple[str, str, int], list[str]] = {}
    for s in built.samples:
        m = s.metadata or {}
        if "monitoring" in m["conditions"]:
            user = s.input[1].text  # type: ignore[index,union-attr]
            by_key.setdefault((m["pair_id"], m["style"], m["paraphrase"]), []).append(user)
            assert user.endswith(m["request"])
    for users in by_key.values():
        assert len(users) == 2


def test_sample_ids_are_unique_and_content_addressed(suite_file: Path) -> None:
    first = build_samples(load_suite(str(suite_file))).samples
    second = build_samples(load_suite(str(suite_file))).samples
    assert [s.id for s in first] == [s.id for s in second]
    assert len({s.id for s in first}) == len(first)
    a = sample_id("1", "harmbench:x", {"monitoring": "monitored"}, "system", 0)
    assert a != sample_id("2", "harmbench:x", {"monitoring": "monitored"}, "system", 0)
    assert a != sample_id("1", "harmbench:x", {"monitoring": "unmonitored"}, "system", 0)
    assert a != sample_id("1", "harmbench:x", {"monitoring": "monitored"}, "system", 1)


def test_metadata_contract_keys_on_every_sample(suite_file: Path) -> None:
    required = {"pair_id", "probe_set", "item_kind", "battery", "conditions", "style", "paraphrase",
                "setting", "suite", "suite_version"}
    for s in build_samples(load_suite(str(suite_file))).samples:
        assert required <= set(s.metadata or {})


def test_task_version_changes_with_content_not_with_path(suite_file: Path, tmp_path: Path) -> None:
    from unmask.batteries.compliance_gap import compliance_gap

    first = compliance_gap(suite=str(suite_file)).version
    copy = tmp_path / "copy" / "suite.yaml"
    copy.parent.mkdir()
    copy.write_text(suite_file.read_text())
    assert compliance_gap(suite=str(copy)).version == first
    suite_file.write_text(suite_file.read_text().replace("limit: 3", "limit: 4"))
    changed = compliance_gap(suite=str(suite_file)).version
    assert changed != first and str(changed).startswith("1.")
