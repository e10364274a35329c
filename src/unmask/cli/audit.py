"""`unmask audit commit|check|reveal|open|bundle`, `unmask keygen` and `unmask verify`: independent audits.

Exit codes: 0 verified, 1 something does not check out (named), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from .report import guarded


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    k = sub.add_parser("keygen", help="an Ed25519 key pair for signing reports (PREFIX.key, PREFIX.pub)")
    k.add_argument("--out", required=True, help="path prefix of the two key files")
    k.set_defaults(handler=guarded(_keygen, 2))

    v = sub.add_parser("verify", help="rebuild a report from its logs and check every digest and signature")
    v.add_argument("target", help="an audit bundle (.tar.gz), or report.json / its directory")
    v.add_argument("logs", nargs="*", help="the logs the report was built from (not with a bundle)")
    v.add_argument("--key", help="public key the report must be signed with (a bundle's own key.pub otherwise)")
    v.set_defaults(handler=guarded(_verify, 2))

    a = sub.add_parser("audit", help="private held-out items: commitments, selective reveal, bundles")
    asub = a.add_subparsers(dest="audit_command", required=True)
    c = asub.add_parser("commit", help="commit to a probe file's items before the run (publish --out, keep --secret)")
    c.add_argument("items", help="the auditor's probe file (.jsonl or .csv, as a suite's `set: file` reads it)")
    c.add_argument("--set", dest="set_name", help="the probe-set name the suite gives it (default: the file stem)")
    c.add_argument("--out", required=True, help="the public commitment (JSON)")
    c.add_argument("--secret", required=True, help="the auditor's secret: items and salts (never publish)")
    c.set_defaults(handler=guarded(_commit, 2))
    u = asub.add_parser("check", help="auditor: which committed items the logs used; nothing added or changed")
    u.add_argument("commitment")
    u.add_argument("secret")
    u.add_argument("logs", nargs="+")
    u.add_argument("--allow-unused", action="store_true", help="a run on a subset (--limit) is not a failure")
    u.set_defaults(handler=guarded(_check, 2))
    r = asub.add_parser("reveal", help="auditor: open the items a beacon drawn from the finished logs chooses")
    r.add_argument("commitment")
    r.add_argument("secret")
    r.add_argument("logs", nargs="+")
    r.add_argument("--count", type=int, required=True, help="how many items to open")
    r.add_argument("--out", required=True, help="the opening (JSON) to publish")
    r.set_defaults(handler=guarded(_reveal, 2))
    o = asub.add_parser("open", help="anyone: check an opening against the commitment and the logs")
    o.add_argument("opening")
    o.add_argument("commitment")
    o.add_argument("logs", nargs="+")
    o.set_defaults(handler=guarded(_open, 2))
    b = asub.add_parser("bundle", help="one archive with report, signature, logs, key and audit files")
    b.add_argument("out", help="the bundle to write (.tar.gz)")
    b.add_argument("--report", required=True, help="the directory `unmask report` wrote")
    b.add_argument("--logs", nargs="+", required=True)
    b.add_argument("--key", help="the signer's public key (key.pub in the bundle)")
    b.add_argument("--commitment", help="the published commitment")
    b.add_argument("--opening", help="the published opening")
    b.set_defaults(handler=guarded(_bundle, 2))


def _problems(problems: Sequence[str], checked: Sequence[str] = ()) -> int:
    for line in checked:
        print(f"checked: {line}")
    for line in problems:
        print(f"FAILED: {line}")
    print("verified" if not problems else f"{len(problems)} problem(s): not verified")
    return 0 if not problems else 1


def _keygen(args: argparse.Namespace) -> int:
    from ..audit.attestation import keygen

    secret, public, kid = keygen(Path(args.out))
    print(f"private key: {secret} (keep it; mode 600)\npublic key:  {public}\nkey id:      {kid}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..audit.verify import BUNDLE_KEY, BUNDLE_LOGS, BUNDLE_REPORT, unpacked, verify_report

    target = Path(args.target)
    if target.is_file() and target.name.endswith((".tar.gz", ".tgz")):
        if args.logs:
            raise InputError("a bundle carries its own logs", field="logs", fix="pass the bundle alone")
        with unpacked(target) as root:
            key = args.key or (str(root / BUNDLE_KEY) if (root / BUNDLE_KEY).is_file() else None)
            result = verify_report(root / BUNDLE_REPORT, [root / BUNDLE_LOGS], public_key=key)
            if key is not None:
                from ..audit.attestation import key_id, load_public

                result.checked.append(f"signer key id {key_id(load_public(key))}"
                                      + ("" if args.key else " (the bundle's own key: compare it with the one "
                                                             "the signer published)"))
            extra = _bundle_audit(root, result.checked)
            return _problems([*result.problems, *extra], result.checked)
    if not args.logs:
        raise InputError("no logs given", field="logs", fix="pass the logs the report was built from")
    result = verify_report(target, args.logs, public_key=args.key)
    return _problems(result.problems, result.checked)


def _bundle_audit(root: Path, checked: list[str]) -> list[str]:
    """A bundle's opening, checked against its commitment and logs, when it carries both."""
    from ..audit.commitment import check_opening, load_commitment, load_opening

    if not (root / "commitment.json").is_file() or not (root / "opening.json").is_file():
        return []
    commitment = load_commitment(root / "commitment.json")
    digests, items = _run_items(commitment.set, [root / "logs"])
    checked.append(f"opening of commitment {commitment.root.hex()[:16]} against the logs")
    return check_opening(load_opening(root / "opening.json"), commitment, digests, items)


def _run_items(set_name: str, logs: Sequence[str | Path]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The logs' digests, and the items of probe set `set_name` they ran (id -> item)."""
    from ..digests import sha256_file
    from ..evidence.logs import find_logs, read_evidence

    found, _ = find_logs(logs)
    evidence = read_evidence(found, full=True)
    items: dict[str, dict[str, str]] = {}
    for r in evidence.records:
        if r.probe_set != set_name or r.pair_id is None or r.request is None:
            continue
        item_id = r.pair_id.removeprefix(f"{set_name}:")
        items[item_id] = {"id": item_id, "request": r.request, "kind": r.item_kind, "category": r.category}
    return [sha256_file(p) for p in found], items


def _commit(args: argparse.Namespace) -> int:
    from ..audit.commitment import commit, write_commitment
    from ..design.probes import load_user_set

    path = Path(args.items)
    probe_set = load_user_set(path, name=args.set_name)
    commitment, secret = commit(({"id": i.id, "request": i.request, "kind": i.kind, "category": i.category}
                                 for i in probe_set.items), probe_set.name)
    write_commitment(commitment, secret, Path(args.out), Path(args.secret))
    print(f"committed {len(commitment.leaves)} items of set {probe_set.name!r}: root {commitment.root.hex()}")
    print(f"publish {args.out} (or its root) now; keep {args.secret} private")
    return 0


def _check(args: argparse.Namespace) -> int:
    from ..audit.commitment import check_use, load_commitment, load_secret

    commitment = load_commitment(args.commitment)
    _, items = _run_items(commitment.set, args.logs)
    use = check_use(commitment, load_secret(args.secret), items)
    checked = [f"{len(use.used)} of {len(commitment.leaves)} committed items ran unchanged"
               + (f"; {len(use.unused)} not run" if use.unused else "")]
    return _problems(use.problems(allow_unused=args.allow_unused), checked)


def _reveal(args: argparse.Namespace) -> int:
    from ..audit.commitment import load_commitment, load_secret, open_subset

    commitment = load_commitment(args.commitment)
    digests, _ = _run_items(commitment.set, args.logs)
    opening = open_subset(commitment, load_secret(args.secret), digests, args.count)
    Path(args.out).write_text(json.dumps(opening, indent=1) + "\n", encoding="utf-8")
    print(f"opened {args.count} of {len(commitment.leaves)} items (beacon {opening['beacon'][:16]}): {args.out}")
    return 0


def _open(args: argparse.Namespace) -> int:
    from ..audit.commitment import check_opening, load_commitment, load_opening

    commitment = load_commitment(args.commitment)
    digests, items = _run_items(commitment.set, args.logs)
    opening = load_opening(args.opening)
    problems = check_opening(opening, commitment, digests, items)
    return _problems(problems, [f"{len(opening.get('opened') or [])} opened item(s) against root "
                                f"{commitment.root.hex()[:16]} and {len(digests)} log(s)"])


def _bundle(args: argparse.Namespace) -> int:
    from ..audit.verify import BUNDLE_KEY, write_bundle

    extras = {name: Path(p) for name, p in (("commitment.json", args.commitment), ("opening.json", args.opening),
                                              (BUNDLE_KEY, args.key)) if p}
    out = write_bundle(Path(args.out), Path(args.report), args.logs, extras)
    print(f"wrote {out}; check it anywhere with: unmask verify {out}" + ("" if args.key else " --key SIGNER.pub"))
    return 0
