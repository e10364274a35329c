"""Signing what `unmask report` wrote: report.json, its logs, and the gate's verdict under the policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..digests import sha256_file
from ..evidence.logs import find_logs
from ..gate import load_policy
from ..gate.decide import decide
from ..gate.policy import default_policy_path
from ..report import load_report
from .attestation import ATTESTATION_FILE, load_private, sign, signed_names, statement


def sign_report(report_dir: Path, logs: Sequence[str | Path], key_path: str, policy_path: str | None,
                signer: str | None) -> dict[str, Any]:
    """Write attestation.json beside report.json and return the envelope."""
    key = load_private(key_path)
    report = load_report(report_dir)
    verdict = decide(report, load_policy(policy_path)).verdict
    found, _ = find_logs(logs)
    policy_file = Path(policy_path) if policy_path else default_policy_path()
    envelope = sign(statement(report_dir / "report.json", signed_names(found), verdict, sha256_file(policy_file),
                              signer), key)
    (report_dir / ATTESTATION_FILE).write_text(json.dumps(envelope, indent=1) + "\n", encoding="utf-8")
    return envelope
