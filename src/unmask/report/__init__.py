"""Reports: statistics, manifest, checklist and scoped claims, as report.json, report.md and report.html.

    evidence = read_evidence(["logs/main"])
    report = build_report(evidence, AnalysisOptions(alpha=0.05))
    write_report(report, evidence, "report/")
"""

from __future__ import annotations

from ..stats.contrasts import AnalysisOptions
from .build import build_report, checklist_items, load_report, write_report
from .schema import REPORT_SCHEMA, SCHEMA_NAME, SCHEMA_VERSION, check_report

__all__ = [
    "REPORT_SCHEMA",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "AnalysisOptions",
    "build_report",
    "check_report",
    "checklist_items",
    "load_report",
    "write_report",
]
