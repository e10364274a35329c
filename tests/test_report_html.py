"""report.html in a real headless Chromium: the plots render with real size, the page is self-contained.

Needs Debian's `chromium` (the test set-up installs it). Without it the test skips, unless CI is set,
where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from unmask.evidence.logs import read_evidence
from unmask.report import AnalysisOptions, build_report, write_report
from unmask.report.build import checklist_items
from unmask.testing.synthetic import SyntheticDesign, write_synthetic_logs

pytestmark = pytest.mark.integration

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars"]

PROBE = """<script>
(() => {
  const plots = [...document.querySelectorAll('svg.plot')].map(svg => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('circle, line')].filter(el => {
      const b = el.getBoundingClientRect(); return b.width > 0 || b.height > 0; });
    return {id: svg.id, width: box.width, height: box.height, circles: svg.querySelectorAll('circle').length,
            visible_marks: marks.length, inside: box.left >= 0 && box.right <= window.innerWidth + 1};
  });
  const checklist = [...document.querySelectorAll('#checklist tbody tr')].map(tr => tr.innerText);
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({plots, checklist, title: document.title});
  document.body.appendChild(pre);
})();
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        pytest.fail("chromium is not installed but CI is set: the test set-up must `apt-get install -y chromium`")
    pytest.skip("chromium is not installed (apt-get install -y chromium); under CI=true this is a failure")


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("html")
    design = SyntheticDesign(harmful_items=30, benign_items=8, axes=("monitoring", "phase"),
                             styles=("system", "tier_tag", "metadata"), paraphrases=(0, 1),
                             gaps={"monitoring": 0.12}, style_gaps={"tier_tag": 0.15}, unscorable_rate=0.02,
                             error_rate=0.01, awareness=0.25, extra_batteries=("sandbagging",), seed=5)
    write_synthetic_logs(design, tmp / "logs")
    evidence = read_evidence([tmp / "logs"])
    report = build_report(evidence, AnalysisOptions(reps=300, tolerated_gap=0.05))
    write_report(report, evidence, tmp / "report", table="none")
    return tmp / "report" / "report.html", report


def test_html_is_self_contained(example: tuple[Path, dict[str, Any]]) -> None:
    html = example[0].read_text()
    assert "<script" not in html and "<link" not in html
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace is a name, not a fetch


def test_plots_render_in_chromium(example: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    browser = _chromium()
    html_path, report = example
    probe = html_path.with_name("probe.html")
    probe.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    result = _run(browser, tmp_path / "profile", "--window-size=1280,1600", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no probe output; chromium said: {result.stderr[-2000:]}"
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))
    plots = {p["id"]: p for p in data["plots"]}
    # the synthetic run carries a sandbagging battery too: its figure comes from that battery's module
    assert set(plots) == {"plot-rates", "plot-forest", "plot-spread", "plot-sandbagging"}
    for plot in plots.values():
        assert plot["width"] > 500 and plot["height"] > 100 and plot["inside"], plot
        # a battery's own figure may be small (sandbagging: one interval per framing), never empty
        assert plot["visible_marks"] > (10 if plot["id"] != "plot-sandbagging" else 2), plot
    pooled = [c for c in report["contrasts"] if not c["subset"] and c["gap"] is not None]
    assert plots["plot-forest"]["circles"] == len(pooled)
    assert plots["plot-rates"]["circles"] == len([r for r in report["conditions"] if r["rate"] is not None])
    cells = sum(len(r["by_style_paraphrase"] or r["by_style"]) for r in report["robustness"])
    assert plots["plot-spread"]["circles"] >= cells
    # every row of the report's checklist is drawn: one per battery item plus the reasoning-score items
    assert len(data["checklist"]) == len(report["checklist"]) > len(checklist_items())
    assert any(row.startswith("Sandbagging") and "TESTED" in row and "NOT" not in row for row in data["checklist"])
    assert data["title"] == report["title"]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_screenshot_is_not_blank(example: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    browser = _chromium()
    html_path, _ = example
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    shots = {}
    for name, page in (("report", html_path), ("blank", blank)):
        shot = tmp_path / f"{name}.png"
        result = _run(browser, tmp_path / f"profile-{name}", "--window-size=1280,1600", f"--screenshot={shot}",
                      page.as_uri())
        assert shot.exists(), result.stderr[-2000:]
        assert _png_size(shot) == (1280, 1600)
        shots[name] = shot.stat().st_size
    assert shots["report"] > 20 * shots["blank"]  # text, tables and plots compress far worse than white
