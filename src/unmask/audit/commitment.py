"""Commitments to an auditor's private probe items: publish before the run, prove afterwards.

Each item gets a random 32-byte salt; its leaf is sha256 over a domain tag, the salt and the item's
canonical JSON (id, request, kind, category), so the published leaves say nothing about the items. The
leaves, in the file's order, form an RFC 6962 Merkle tree whose root is the commitment. The auditor
keeps the salts (the *secret*); with them, `check_use` proves from the logs which committed items a run
used and that none was added or changed. `open_subset` reveals a subset chosen by a beacon neither side
controls alone: the hash of the finished logs together with the root fixed before them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError

COMMITMENT_FORMAT = "unmask-commitment/1"
SECRET_FORMAT = "unmask-commitment-secret/1"
OPENING_FORMAT = "unmask-opening/1"
_LEAF_TAG = b"unmask-item-v1\x00"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(salt: bytes, item: Mapping[str, str]) -> bytes:
    """RFC 6962 leaf: sha256(0x00 || tag || salt || item). The 0x00 keeps leaves and nodes apart."""
    body = {k: str(item.get(k, "")) for k in ("id", "request", "kind", "category")}
    return hashlib.sha256(b"\x00" + _LEAF_TAG + salt + canonical(body)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two below n (RFC 6962's split point)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def audit_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The sibling hashes from leaf `index` up to the root."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*audit_path(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*audit_path(index - k, leaves[k:]), merkle_root(leaves[:k])]


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """Recompute the root from a leaf and its audit path (None when the path has the wrong length)."""
    if size <= 1:
        return leaf if not path else None
    if not path:
        return None
    k = _split(size)
    if index < k:
        inner = root_from_path(index, k, leaf, path[:-1])
        return None if inner is None else _node(inner, path[-1])
    inner = root_from_path(index - k, size - k, leaf, path[:-1])
    return None if inner is None else _node(path[-1], inner)


# --- files ---------------------------------------------------------------------------------------


def _read_json(path: Path, expected: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=path, fix="check the path") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} is not JSON ({exc})", path=path, fix="pass the file `unmask audit` wrote") from None
    if not isinstance(data, dict) or data.get("format") != expected:
        raise InputError(f"not an {what} (expected format {expected!r})", path=path, field="format",
                         fix=f"pass the {what} file `unmask audit` wrote")
    return data


def _hex(value: Any, path: Path, where: str, size: int = 32) -> bytes:
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise InputError(f"{where} is not a {size}-byte hex digest", path=path, field=where,
                         fix="restore the file as `unmask audit` wrote it")
    return raw


@dataclass(frozen=True)
class Commitment:
    """The public half: publish it (or its root) before the run."""

    set: str
    root: bytes
    leaves: tuple[bytes, ...]
    created: str
    path: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {"format": COMMITMENT_FORMAT, "set": self.set, "count": len(self.leaves), "root": self.root.hex(),
                "leaves": [leaf.hex() for leaf in self.leaves], "created": self.created,
                "leaf_rule": "sha256(0x00 || 'unmask-item-v1\\0' || salt || canonical {id, request, kind, category})",
                "tree": "RFC 6962 Merkle tree over the leaves in this order"}


@dataclass(frozen=True)
class Secret:
    """The auditor's half: the items and their salts. Never published whole."""

    set: str
    root: bytes
    items: tuple[dict[str, str], ...]
    salts: tuple[bytes, ...]


def commit(items: Iterable[Mapping[str, str]], set_name: str) -> tuple[Commitment, Secret]:
    rows = [{k: str(item.get(k, "")) for k in ("id", "request", "kind", "category")} for item in items]
    salts = tuple(secrets.token_bytes(32) for _ in rows)
    leaves = tuple(leaf_hash(s, r) for s, r in zip(salts, rows, strict=True))
    root = merkle_root(leaves)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return Commitment(set_name, root, leaves, created), Secret(set_name, root, tuple(rows), salts)


def write_commitment(commitment: Commitment, secret: Secret, out: Path, secret_out: Path) -> None:
    out.write_text(json.dumps(commitment.as_json(), indent=1) + "\n", encoding="utf-8")
    secret_out.write_text(json.dumps({"format": SECRET_FORMAT, "set": secret.set, "root": secret.root.hex(),
                                      "items": [r | {"salt": s.hex()} for r, s in zip(secret.items, secret.salts,
                                                                                      strict=True)]},
                                     indent=1) + "\n", encoding="utf-8")
    secret_out.chmod(0o600)


def load_commitment(path: str | Path) -> Commitment:
    p = Path(path)
    data = _read_json(p, COMMITMENT_FORMAT, "audit commitment")
    leaves = data.get("leaves")
    if not isinstance(leaves, list) or not leaves:
        raise InputError("the commitment lists no leaves", path=p, field="leaves", fix="commit at least one item")
    parsed = tuple(_hex(v, p, f"leaves[{i}]") for i, v in enumerate(leaves))
    root = _hex(data.get("root"), p, "root")
    if merkle_root(parsed) != root:
        raise InputError("the leaves do not hash to the root: the commitment was edited", path=p, field="root",
                         fix="use the commitment as it was published")
    if data.get("count") != len(parsed):
        raise InputError(f"count {data.get('count')!r} differs from the {len(parsed)} leaves", path=p, field="count",
                         fix="use the commitment as it was published")
    return Commitment(str(data.get("set") or ""), root, parsed, str(data.get("created") or ""), p)


def load_secret(path: str | Path) -> Secret:
    p = Path(path)
    data = _read_json(p, SECRET_FORMAT, "audit secret")
    items, salts = [], []
    for i, row in enumerate(data.get("items") or []):
        if not isinstance(row, dict) or not isinstance(row.get("request"), str):
            raise InputError(f"item {i} has no request text", path=p, field=f"items[{i}]",
                             fix="restore the secret as `unmask audit commit` wrote it")
        salts.append(_hex(row.get("salt"), p, f"items[{i}].salt"))
        items.append({k: str(row.get(k, "")) for k in ("id", "request", "kind", "category")})
    return Secret(str(data.get("set") or ""), _hex(data.get("root"), p, "root"), tuple(items), tuple(salts))


# --- using the logs -------------------------------------------------------------------------------


@dataclass
class UseCheck:
    """Which committed items a run used, and what it used that was never committed."""

    used: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    def problems(self, *, allow_unused: bool) -> list[str]:
        out = [f"item {i!r} was run with text that differs from the committed item" for i in self.changed]
        out += [f"item {i!r} was run but never committed" for i in self.added]
        if not allow_unused:
            out += [f"committed item {i!r} was not run" for i in self.unused]
        return out


def check_use(commitment: Commitment, secret: Secret, run_items: Mapping[str, Mapping[str, str]]) -> UseCheck:
    """Compare the items a run used (id -> item, from the logs) with the commitment, through the secret."""
    if secret.root != commitment.root or len(secret.items) != len(commitment.leaves):
        raise InputError("the secret belongs to another commitment (roots differ)",
                         path=commitment.path, fix="pass the secret written with this commitment")
    by_id = {item["id"]: (i, item) for i, item in enumerate(secret.items)}
    result = UseCheck()
    for item_id, item in sorted(run_items.items()):
        if item_id not in by_id:
            result.added.append(item_id)
            continue
        index, _ = by_id[item_id]
        if leaf_hash(secret.salts[index], item) == commitment.leaves[index]:
            result.used.append(item_id)
        else:
            result.changed.append(item_id)
    result.unused = sorted(set(by_id) - set(run_items))
    return result


def beacon(root: bytes, log_digests: Sequence[str]) -> bytes:
    """A value neither side controls alone: the root was fixed before the run, the logs after it."""
    return hashlib.sha256(b"unmask-beacon-v1\x00" + root + "".join(sorted(log_digests)).encode()).digest()


def chosen(beacon_value: bytes, size: int, count: int) -> list[int]:
    """The `count` indices the beacon opens: a ranking by sha256(beacon || index)."""
    ranked = sorted(range(size), key=lambda i: hashlib.sha256(beacon_value + i.to_bytes(8, "big")).digest())
    return sorted(ranked[:count])


def open_subset(commitment: Commitment, secret: Secret, log_digests: Sequence[str], count: int) -> dict[str, Any]:
    """The opening a verifier checks: the beacon's items, each with its salt and audit path."""
    if not 0 < count <= len(commitment.leaves):
        raise InputError(f"cannot open {count} of {len(commitment.leaves)} items", field="--count",
                         fix=f"use 1 to {len(commitment.leaves)}")
    value = beacon(commitment.root, log_digests)
    opened = [{"index": i, "item": secret.items[i], "salt": secret.salts[i].hex(),
               "path": [h.hex() for h in audit_path(i, commitment.leaves)]} for i in chosen(value, len(secret.items),
                                                                                         count)]
    return {"format": OPENING_FORMAT, "root": commitment.root.hex(), "size": len(commitment.leaves),
            "logs_sha256": sorted(log_digests), "beacon": value.hex(), "opened": opened}


def check_opening(opening: Mapping[str, Any], commitment: Commitment, log_digests: Sequence[str],
                  run_items: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Everything a third party can check with the commitment, the opening and the logs."""
    problems = []
    if opening.get("root") != commitment.root.hex():
        problems.append("the opening is for another commitment (roots differ)")
        return problems
    if sorted(opening.get("logs_sha256") or []) != sorted(log_digests):
        problems.append("the opening was drawn from other logs than these (log digests differ)")
    value = beacon(commitment.root, log_digests)
    entries = list(opening.get("opened") or [])
    indices = [int(e.get("index", -1)) for e in entries]
    if indices != chosen(value, len(commitment.leaves), len(entries)):
        problems.append("the opened items are not the ones the beacon chose")
    for entry in entries:
        index, item = int(entry.get("index", -1)), entry.get("item") or {}
        label = f"opened item {item.get('id')!r} (index {index})"
        try:
            salt = bytes.fromhex(str(entry.get("salt")))
            path = [bytes.fromhex(str(h)) for h in entry.get("path") or []]
        except ValueError:
            problems.append(f"{label}: salt or path is not hex")
            continue
        if not 0 <= index < len(commitment.leaves):
            problems.append(f"{label}: no such leaf")
            continue
        leaf = leaf_hash(salt, item)
        if root_from_path(index, len(commitment.leaves), leaf, path) != commitment.root:
            problems.append(f"{label}: does not hash to the committed root (the item or its salt was changed)")
        ran = run_items.get(str(item.get("id")))
        if ran is None:
            problems.append(f"{label}: not in the logs")
        elif leaf_hash(salt, ran) != leaf:
            problems.append(f"{label}: the logs ran different text")
    return problems


def load_opening(path: str | Path) -> dict[str, Any]:
    return _read_json(Path(path), OPENING_FORMAT, "audit opening")
