from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from unmask.cli import main
from unmask.design.suite import load_suite, shipped_suites
from unmask.errors import InputError


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "needle"),
    [
        ("axes: [monitoring, phase]", "axes: [monitoring, mood]", 4, "axes", "unknown axis 'mood'"),
        ("styles: [system, tier_tag, metadata, file]", "styles: [system, smoke]", 5, "styles", "unknown cue style"),
        ("paraphrases: [0, 1]", "paraphrases: [0, 9]", 6, "paraphrases", "0 to 3"),
        ("  - {set: harmbench, limit: 3}", "  - {set: harmbench, limit: 0}", 8, "probes.0.limit", "greater than"),
        ("version: '1'", "version: '1'\ndesign: zigzag", 3, "design", "one_axis"),
        ("version: '1'", "version: '1'\ncolour: blue", 3, "colour", "Extra inputs"),
        ("  - {set: benign, limit: 2}", "  - {set: file}", 9, "probes.1", "needs a path"),
    ],
)
def test_bad_suite_error_names_file_line_and_field(
    suite_file: Path, old: str, new: str, line: int, field: str, needle: str
) -> None:
    _replace(suite_file, old, new)
    with pytest.raises(InputError) as exc:
        load_suite(str(suite_file))
    err = exc.value
    assert (err.path, err.line, err.field) == (str(suite_file), line, field)
    assert needle in str(err) and "Fix:" in str(err)


def test_yaml_syntax_error_names_line(suite_file: Path) -> None:
    suite_file.write_text("name: t\nprobes: [\n  {set: benign\n")
    with pytest.raises(InputError) as exc:
        load_suite(str(suite_file))
    assert exc.value.line is not None and "not valid YAML" in str(exc.value)


def test_missing_required_field(tmp_path: Path) -> None:
    """A compliance-gap suite without probes is rejected where its tasks are built, with file and field."""
    from unmask.batteries import tasks_for_suite

    p = tmp_path / "s.yaml"
    p.write_text("name: x\n")
    load_suite(str(p))  # the suite itself is well formed
    with pytest.raises(InputError, match="field 'probes'") as exc:
        tasks_for_suite(str(p))
    assert str(p) in str(exc.value)


def test_cli_exits_2_without_traceback(suite_file: Path) -> None:
    _replace(suite_file, "setting: helpful_only", "setting: helpful_only\nepochs: 0")
    proc = subprocess.run([sys.executable, "-m", "unmask.cli", "suites", str(suite_file)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{suite_file}:4: field 'epochs'" in proc.stderr


def test_unknown_setting_is_reported_with_field(suite_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(suite_file, "setting: helpful_only", "setting: helpfull")
    assert main(["suites", str(suite_file)]) == 2
    assert "field 'setting'" in capsys.readouterr().err


def test_every_shipped_suite_validates_and_builds(capsys: pytest.CaptureFixture[str]) -> None:
    names = shipped_suites()
    assert {"smoke", "main"} <= set(names)
    assert main(["suites", *map(str, names.values())]) == 0
    assert capsys.readouterr().out.count(": ok") == len(names)


def test_closed_output_pipe_is_not_a_traceback() -> None:
    proc = subprocess.run(f"{sys.executable} -m unmask.cli suites | head -1", shell=True,
                          capture_output=True, text=True, check=False)
    assert "Traceback" not in proc.stderr and proc.stdout.strip()


def test_task_arguments_go_to_the_batteries_that_take_them() -> None:
    from unmask.batteries import tasks_for_suite
    from unmask.errors import InputError

    tasks = tasks_for_suite("full_quick", scorer="rules")  # sandbagging and hidden_goals take no scorer
    methods = {t.metadata["unmask_manifest"]["suite"]["battery"]: t.metadata["unmask_manifest"]["scorer"].get("method")
               for t in tasks}
    assert methods["compliance_gap"] == methods["modification"] == methods["trigger_scan"] == "rules"
    with pytest.raises(InputError, match="no battery of bundle 'full_quick' takes the argument 'nope'"):
        tasks_for_suite("full_quick", nope=1)
    with pytest.raises(InputError, match="takes no argument 'scorer'"):
        tasks_for_suite("sandbagging_quick", scorer="rules")
