from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from unmask.design.probes import load_builtin, load_user_set, select
from unmask.errors import InputError


@pytest.mark.parametrize("name", ["harmbench", "strongreject", "strongreject_small", "benign"])
def test_builtin_sets_load_with_hash_and_unique_ids(name: str) -> None:
    s = load_builtin(name)
    assert len(s.items) >= 40
    assert len({i.id for i in s.items}) == len(s.items)
    assert len(s.sha256) == 64 and all(i.request for i in s.items)


def test_harmbench_keeps_only_standard_behaviours() -> None:
    assert len(load_builtin("harmbench").items) == 159


def test_selection_is_seeded_and_stable() -> None:
    items = load_builtin("harmbench").items
    assert select(items, limit=5, seed=0) == select(items, limit=5, seed=0)
    assert select(items, limit=5, seed=0) != select(items, limit=5, seed=1)
    assert select(items, limit=None, seed=0) == items


def test_user_jsonl_and_csv(tmp_path: Path) -> None:
    j = tmp_path / "mine.jsonl"
    j.write_text('{"id": "a", "request": "do x"}\n\n{"prompt": "do y", "kind": "benign"}\n')
    s = load_user_set(j)
    assert [(i.id, i.kind) for i in s.items] == [("a", "harmful"), ("item0001", "benign")]
    assert s.sha256 == hashlib.sha256(j.read_bytes()).hexdigest()
    c = tmp_path / "mine.csv"
    c.write_text("request,category\ndo z,misc\n")
    assert load_user_set(c).items[0].request == "do z"


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ('{"request": "ok"}\n{"request": \n', 2, "not valid JSON"),
        ('{"request": "ok"}\n{"id": "b"}\n', 2, "missing or empty request"),
        ('{"request": "ok", "kind": "spicy"}\n', 1, "kind"),
        ("[1, 2]\n", 1, "expected a JSON object"),
    ],
)
def test_bad_user_file_names_file_and_line(tmp_path: Path, content: str, line: int, needle: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(InputError) as exc:
        load_user_set(p)
    assert exc.value.line == line and needle in str(exc.value) and str(p) in str(exc.value)
