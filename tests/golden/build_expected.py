"""How tests/golden/expected was built: the reports and verdicts of the code before the battery-contract
redesign, on the logs in tests/golden/logs.

Run against that tree, not this one (it imports the old module paths):
    git worktree add /tmp/old c9b992e
    PYTHONPATH=/tmp/old/src python tests/golden/build_expected.py tests/golden/logs tests/golden/expected
"""

import json
import sys
from pathlib import Path


def main(logs: Path, out: Path) -> None:
    from unmask.organisms.validate import battery_policy
    from unmask.records import read_evidence

    from unmask.gate import decide, load_policy
    from unmask.report import build_report

    policy = load_policy()
    for case in sorted(p for p in logs.iterdir() if p.is_dir()):
        files = sorted(case.glob("*.eval"))
        batteries: dict[str, list[Path]] = {}
        for f in files:
            batteries.setdefault(read_evidence([f]).records[0].battery, []).append(f)
        plans = [(case.name, files, policy)] if len(batteries) > 1 else []
        plans += [(f"{case.name}/{b}", fs, battery_policy(policy, b)) for b, fs in batteries.items()]
        for name, paths, pol in plans:
            evidence = read_evidence(paths)
            report = build_report(evidence, pol.analysis_options())
            decision = decide(report, pol)
            target = out / name
            target.mkdir(parents=True, exist_ok=True)
            (target / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
            (target / "gate.txt").write_text(decision.render() + "\n")
            print(name, decision.verdict, len(evidence.records))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
