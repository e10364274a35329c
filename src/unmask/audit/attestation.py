"""Signed reports: an in-toto Statement in a DSSE envelope, signed with Ed25519 (`cryptography`).

The statement's subjects are report.json and every log it was built from (sha256 each); its predicate
is in-toto's Test Result (`result` PASSED / WARNED / FAILED for PASS / REVIEW / BLOCK) with the policy's
digest as the configuration, so supply-chain tools that read in-toto can carry it unchanged. The
signature covers the DSSE pre-authentication encoding of the statement, never a re-serialisation.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..digests import sha256_file
from ..errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
ATTESTATION_FILE = "attestation.json"
RESULTS = {"PASS": "PASSED", "REVIEW": "WARNED", "BLOCK": "FAILED"}


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise InputError("signing needs the `cryptography` package", fix="pip install 'unmask[audit]'") from None
    return serialization, ed25519


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def key_id(public: Ed25519PublicKey) -> str:
    serialization, _ = _crypto()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def keygen(prefix: Path) -> tuple[Path, Path, str]:
    """Write `<prefix>.key` (private, mode 600) and `<prefix>.pub`; return them and the key id."""
    serialization, ed25519 = _crypto()
    private = ed25519.Ed25519PrivateKey.generate()
    secret_path, public_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (secret_path, public_path):
        if path.exists():
            raise InputError("refusing to overwrite an existing key", path=path, fix="choose another --out prefix")
    secret_path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    secret_path.chmod(0o600)
    public = private.public_key()
    public_path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    return secret_path, public_path, key_id(public)


def _load_key(path: str | Path, *, private: bool) -> Any:
    """A PEM Ed25519 key, or one clear error naming the file (missing, not PEM, another algorithm)."""
    serialization, ed25519 = _crypto()
    p = Path(path)
    what, made = ("key", ".key") if private else ("public key", ".pub")
    try:
        raw = p.read_bytes()
        key = serialization.load_pem_private_key(raw, password=None) if private \
            else serialization.load_pem_public_key(raw)
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=p, fix="check the path, or make one with `unmask keygen`") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"not an unencrypted PEM {what} ({exc})", path=p,
                         fix=f"pass the {made} file `unmask keygen` wrote") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey):
        raise InputError(f"not an Ed25519 {what}", path=p, fix=f"pass the {made} file `unmask keygen` wrote")
    return key


def load_private(path: str | Path) -> Ed25519PrivateKey:
    return cast("Ed25519PrivateKey", _load_key(path, private=True))


def load_public(path: str | Path) -> Ed25519PublicKey:
    return cast("Ed25519PublicKey", _load_key(path, private=False))


def statement(report_path: Path, logs: Mapping[str, str], verdict: str, policy_sha256: str,
              signer: str | None) -> dict[str, Any]:
    """`logs`: name in the statement -> sha256 of the file."""
    subjects = [{"name": "report.json", "digest": {"sha256": sha256_file(report_path)}}]
    subjects += [{"name": f"logs/{name}", "digest": {"sha256": digest}} for name, digest in sorted(logs.items())]
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": {"result": RESULTS[verdict],
                          "configuration": [{"name": "policy", "digest": {"sha256": policy_sha256}}],
                          "unmask": {"verdict": verdict, "signer": signer}}}


def sign(statement_: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    body = json.dumps(statement_, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, body))
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(body).decode(),
            "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}]}


def open_envelope(envelope: Mapping[str, Any], public: Ed25519PublicKey, where: Path) -> dict[str, Any]:
    """Check the signature with this key; return the statement it covers."""
    from cryptography.exceptions import InvalidSignature

    try:
        body = base64.b64decode(str(envelope["payload"]), validate=True)
        signatures = list(envelope["signatures"])
        payload_type = str(envelope["payloadType"])
    except (KeyError, TypeError, ValueError):
        raise InputError("not a DSSE envelope (payloadType, payload, signatures)", path=where,
                         fix=f"pass the {ATTESTATION_FILE} `unmask report --sign` wrote") from None
    wanted = key_id(public)
    mine = [s for s in signatures if isinstance(s, dict) and s.get("keyid") == wanted]
    if not mine:
        raise VerificationError(f"not signed by this key (key id {wanted[:16]}; signed by "
                                f"{', '.join(str(s.get('keyid'))[:16] for s in signatures if isinstance(s, dict))})")
    try:
        public.verify(base64.b64decode(str(mine[0].get("sig")), validate=True), pae(payload_type, body))
    except (InvalidSignature, ValueError):
        raise VerificationError("the signature does not match the signed statement (edited, or signed by "
                                "another key under this key's id)") from None
    data = json.loads(body)
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise VerificationError("the signed payload is not an in-toto Statement v1")
    return data


def subject_problems(signed: Mapping[str, Any], report_path: Path, logs: Mapping[str, str]) -> list[str]:
    """The files on disk against the digests the signature covers."""
    problems = []
    digests = {s.get("name"): (s.get("digest") or {}).get("sha256") for s in signed.get("subject") or []}
    if digests.get("report.json") != sha256_file(report_path):
        problems.append("report.json is not the report that was signed (sha256 differs)")
    signed_logs = {k.removeprefix("logs/"): v for k, v in digests.items() if str(k).startswith("logs/")}
    for name in sorted(set(signed_logs) - set(logs)):
        problems.append(f"signed log {name} is missing")
    for name in sorted(set(logs) - set(signed_logs)):
        problems.append(f"log {name} was not signed (added after signing)")
    for name in sorted(set(logs) & set(signed_logs)):
        if logs[name] != signed_logs[name]:
            problems.append(f"log {name} is not the log that was signed (sha256 differs)")
    return problems


class VerificationError(Exception):
    """A signature or digest that does not check out: the evidence was changed (exit 1, not bad input)."""


def signed_names(paths: Sequence[Path]) -> dict[str, str]:
    """Logs by file name (what a bundle keeps) -> sha256; two logs with one name are an error."""
    out: dict[str, str] = {}
    for path in paths:
        if path.name in out:
            raise InputError(f"two logs named {path.name}", path=path, fix="sign logs with distinct file names")
        out[path.name] = sha256_file(path)
    return out
