"""The embedded llama.cpp server cannot outlive unmask: `kill -9` at random moments leaves no server behind.

Real processes: `unmask serve` and `unmask run` started as subprocesses, killed with SIGKILL before the
server starts, while it loads, while it is ready, and while it is generating (issue 17, finding 3).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _is_server(cmdline: bytes) -> bool:
    """llama-cpp-python's server, started directly or through unmask's prefill-aware launcher."""
    return b"llama_cpp.server" in cmdline or b"unmask.models.llama_server" in cmdline


def _servers() -> set[int]:
    """PIDs of llama.cpp server processes on this machine."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if _is_server(cmdline):
                found.add(int(entry.name))
    return found


def _wait_gone(pids: set[int], timeout: float = 3.0) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if Path(f"/proc/{p}").exists() and _is_server(_cmd(p))}
        time.sleep(0.1)
    return alive


def _cmd(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _kill_at(args: list[str], delay: float, tmp_path: Path, *, after_server: bool = False) -> set[int]:
    """Start `unmask ARGS`, SIGKILL it after `delay` seconds (counted from the server's start when
    `after_server`); return the servers it left alive."""
    before = _servers()
    proc = subprocess.Popen([sys.executable, "-m", "unmask", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=tmp_path, start_new_session=True)
    if after_server:
        deadline = time.monotonic() + 120
        while not _servers() - before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _servers() - before, "the server never started"
    time.sleep(delay)
    started = _servers() - before
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return _wait_gone((_servers() | started) - before)


def test_kill_9_at_random_moments_leaves_no_server(tmp_path: Path) -> None:
    rng = random.Random(17)
    delays = sorted(rng.uniform(0.05, 8.0) for _ in range(6))
    for delay in delays:
        assert _kill_at(["serve"], delay, tmp_path) == set(), f"server outlived unmask serve killed at {delay:.2f}s"


def test_kill_9_while_generating_leaves_no_server(tmp_path: Path) -> None:
    """`unmask run` killed mid-run: the server was busy with requests (it defers SIGTERM then)."""
    left = _kill_at(["run", "smoke", "--log-dir", str(tmp_path / "logs"), "--display", "none"], 8.0, tmp_path,
                    after_server=True)
    assert left == set()
    assert list((tmp_path / "logs").glob("*.eval")), "killed before the run began generating"
