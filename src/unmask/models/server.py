"""A bundled model served by llama.cpp on loopback, for Inspect's own `llama-cpp-python` provider.

Inspect reaches the server like any OpenAI-compatible endpoint, so retries, concurrency and logging
stay Inspect's. The server formats chats with the model's own template and continues a chat that ends
with the assistant's words (assistant prefill, `continuation.py`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .bundled import CACHE_DIR, DEFAULT_MODEL, LocalModel, lookup, sha256_file

PREFILL_ENV = "UNMASK_CONTINUING_BASE_URL"
"""Set to the base URL of a server this module started: its chat format continues an assistant prefill."""
CONTINUING = "unmask-continuing"
"""The chat format `llama_server` registers (`continuation.NAME`; named here so importing this module
needs no llama_cpp)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    model: LocalModel
    base_url: str
    weights: Path
    weights_sha256: str
    log_path: Path

    @property
    def inspect_model(self) -> str:
        """The Inspect model string that reaches this server."""
        return f"llama-cpp-python/{self.model.name}"

    def env(self) -> dict[str, str]:
        # the last: this server continues an assistant prefill (the reasoning-perturbation battery asks)
        return {"LLAMA_CPP_PYTHON_BASE_URL": self.base_url, "LLAMA_CPP_PYTHON_API_KEY": "local",
                PREFILL_ENV: self.base_url}


@contextmanager
def llama_server(
    name: str = DEFAULT_MODEL, *, n_ctx: int = 4096, threads: int = 2, port: int | None = None,
    startup_timeout: float = 120.0,
) -> Iterator[RunningServer]:
    """Start `llama_cpp.server` on loopback for a bundled model; stop it on exit, whatever happened."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise InputError("llama-cpp-python is not installed",
                         fix="pip install 'unmask[local]' (or run scripts/setup)") from exc
    model = lookup(name)
    weights = model.path()
    port = port or _free_port()
    log_path = CACHE_DIR / "server" / f"{name}-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # the model's own chat template, continuing a trailing assistant message (prefill; continuation.py)
    fmt = f"{CONTINUING}:{model.chat_format}" if model.chat_format else CONTINUING
    cmd = [sys.executable, "-m", "unmask.models.llama_server", "--model", str(weights), "--model_alias", name,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", str(threads), "--n_threads_batch", str(threads), "--verbose", "False",
           "--chat_format", fmt]
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        parent = os.getpid()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: _die_with_parent(parent))
        try:
            _wait_ready(proc, base_url, startup_timeout, log_path)
            yield RunningServer(model, base_url, weights, sha256_file(weights), log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill the server when its parent dies, even by SIGKILL, so no server is orphaned.

    SIGKILL, not SIGTERM: uvicorn defers SIGTERM until in-flight generations finish. A parent killed
    between fork and this call is caught by the parent-pid check that follows it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-800:]
            raise RuntimeError(f"llama.cpp server exited with code {proc.returncode}; log tail:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as resp:
                if resp.status == 200 and json.load(resp).get("data"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"llama.cpp server not ready after {timeout:.0f}s (log: {log_path})")
