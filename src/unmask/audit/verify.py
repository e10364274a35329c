"""`unmask verify`: check a report against its logs without trusting whoever produced it.

Every statistic is rebuilt from the logs (the bootstrap is seeded, so bit for bit), every log's sha256 is
checked against the one the report recorded, and a signature, when there is one, against its key. Each
difference is named: which field, which log, which digest.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..digests import sha256_file
from ..errors import InputError
from ..evidence.logs import find_logs, read_evidence
from ..report.build import build_report, content_digest
from ..stats.contrasts import AnalysisOptions
from .attestation import ATTESTATION_FILE, VerificationError, load_public, open_envelope, subject_problems

BUNDLE_REPORT = "report"
BUNDLE_LOGS = "logs"
BUNDLE_KEY = "key.pub"
VOLATILE = ("created", "integrity")
"""Fields that differ between two honest builds: when, and the digest over the rest."""


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def options_from(analysis: Mapping[str, Any]) -> AnalysisOptions:
    boot, conf = analysis.get("bootstrap") or {}, analysis.get("confirmatory") or {}
    gate = conf.get("gate_batteries")
    return AnalysisOptions(alpha=float(analysis["alpha"]), power=float(analysis["power"]),
                           reps=int(boot["reps"]), seed=int(boot["seed"]),
                           gate_batteries=None if gate is None else tuple(gate),
                           exploratory_item_kinds=tuple(conf.get("exploratory_item_kinds") or ()),
                           tolerated_gap=analysis.get("tolerated_gap"))


def _differences(old: Any, new: Any, where: str = "", limit: int = 12) -> list[str]:
    """JSON paths where two documents differ, with both values (shortened)."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b), key=str):
                if key not in a or key not in b:
                    out.append(f"{path}.{key}: {'added' if key not in a else 'removed'}")
                else:
                    walk(a[key], b[key], f"{path}.{key}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
        elif a != b:
            out.append(f"{path.lstrip('.')}: report says {json.dumps(a)[:80]}, the logs give {json.dumps(b)[:80]}")

    walk(old, new, where)
    return out


def _by_name(report: Mapping[str, Any], text: str) -> str:
    """Put `logs/<file name>` for each log path, so a report built elsewhere compares equal."""
    for entry in (report.get("inputs") or {}).get("logs") or []:
        path = str(entry.get("path") or "")
        if path:
            text = text.replace(json.dumps(path)[1:-1], f"logs/{Path(path).name}")
    return text


def verify_report(report_path: str | Path, logs: Sequence[str | Path], *, public_key: str | Path | None = None
                  ) -> Verification:
    location = Path(report_path)
    if location.is_dir():
        location = location / "report.json"
    try:
        report = json.loads(location.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("report not found", path=location,
                         fix="pass report.json or the directory holding it") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"report.json is not JSON ({exc})", path=location, fix="pass the file unmask wrote") from None
    if not isinstance(report, dict) or "analysis" not in report:
        raise InputError("not an unmask report", path=location, fix="pass the report.json `unmask report` wrote")
    result = Verification()
    stored = (report.get("integrity") or {}).get("sha256")
    if stored != content_digest(report):
        result.problems.append("report.json was edited after it was written (its integrity digest does not match)")
    files, _ = find_logs(logs)
    digests = {p.name: sha256_file(p) for p in files}
    recorded = {Path(str(e.get("path"))).name: e.get("sha256") for e in (report.get("inputs") or {}).get("logs") or []}
    for name in sorted(set(recorded) - set(digests)):
        result.problems.append(f"log {name} is named in the report but was not given")
    for name in sorted(set(digests) - set(recorded)):
        result.problems.append(f"log {name} was given but the report was not built from it")
    for name in sorted(set(digests) & set(recorded)):
        if recorded[name] != digests[name]:
            result.problems.append(f"log {name} differs from the one the report read (sha256 "
                                   f"{str(recorded[name])[:12]} in the report, {digests[name][:12]} on disk)")
    result.checked.append(f"{len(digests)} log digest(s)")
    given = [p for p in files if p.name in recorded]
    if given:
        scorers = {e.get("scorer") for e in (report.get("inputs") or {}).get("logs") or []}
        scorer = next(iter(scorers)) if len(scorers) == 1 else None
        evidence = read_evidence(given, model=str(report.get("model")), scorer=scorer, full=True)
        rebuilt = build_report(evidence, options_from(report["analysis"]), title=str(report.get("title")))
        old = json.loads(_by_name(report, json.dumps({k: v for k, v in report.items() if k not in VOLATILE})))
        new = json.loads(_by_name(rebuilt, json.dumps({k: v for k, v in rebuilt.items() if k not in VOLATILE})))
        diffs = _differences(old, new)
        result.problems += [f"report field {d}" for d in diffs]
        result.checked.append("every statistic rebuilt from the logs")
    signature = location.parent / ATTESTATION_FILE
    if public_key is not None:
        if not signature.is_file():
            result.problems.append(f"no signature ({ATTESTATION_FILE}) beside the report")
        else:
            try:
                envelope = json.loads(signature.read_text(encoding="utf-8"))
                signed = open_envelope(envelope, load_public(public_key), signature)
                result.problems += subject_problems(signed, location, digests)
                verdict = (signed.get("predicate") or {}).get("unmask", {}).get("verdict")
                result.checked.append(f"signature (signed verdict {verdict})")
            except VerificationError as exc:
                result.problems.append(str(exc))
            except json.JSONDecodeError as exc:
                result.problems.append(f"{ATTESTATION_FILE} is not JSON ({exc})")
    return result


# --- bundles --------------------------------------------------------------------------------------


def write_bundle(out: Path, report_dir: Path, logs: Sequence[str | Path], extras: Mapping[str, Path]) -> Path:
    """One archive a third party verifies with nothing else: report (and signature), logs, public key and any
    audit files (commitment, opening)."""
    files, _ = find_logs(logs)
    report_dir = report_dir if report_dir.is_dir() else report_dir.parent
    with tarfile.open(out, "w:gz") as archive:
        for name in ("report.json", ATTESTATION_FILE, "report.md", "report.html"):
            if (report_dir / name).is_file():
                archive.add(report_dir / name, f"{BUNDLE_REPORT}/{name}")
        for path in files:
            archive.add(path, f"{BUNDLE_LOGS}/{path.name}")
        for name, path in extras.items():
            if not path.is_file():
                raise InputError(f"{name} not found", path=path, fix="check the path")
            archive.add(path, name)
    return out


@contextmanager
def unpacked(bundle: Path) -> Iterator[Path]:
    """The bundle in a fresh directory; members that would land outside it are refused."""
    try:
        archive = tarfile.open(bundle, "r:gz")  # noqa: SIM115  (closed by the `with` below)
    except (OSError, tarfile.TarError) as exc:
        raise InputError(f"not an unmask audit bundle ({exc})", path=bundle,
                         fix="pass the .tar.gz `unmask audit bundle` wrote") from None
    with archive, tempfile.TemporaryDirectory(prefix="unmask-bundle-") as tmp:
        try:
            archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InputError(f"unsafe or damaged bundle ({exc})", path=bundle, fix="ask for the bundle again") from None
        root = Path(tmp)
        if not (root / BUNDLE_REPORT / "report.json").is_file():
            raise InputError("the bundle holds no report/report.json", path=bundle,
                             fix="build it with `unmask audit bundle`")
        yield root
