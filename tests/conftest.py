"""Shared fixtures: a real llama.cpp server on loopback for integration tests (one per session)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from unmask.models.server import RunningServer, llama_server

CI_REQUIRED = ("llama_cpp", "torch", "peft", "transformers", "ray")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI a missing extra is a failure: tests that would skip for it must not pass silently."""
    if os.environ.get("CI", "").lower() in ("1", "true"):
        missing = [m for m in CI_REQUIRED if importlib.util.find_spec(m) is None]
        if missing:
            pytest.exit(f"CI run lacks {missing}: run scripts/test (it installs the whitebox extra)", returncode=3)


@pytest.fixture(scope="session")
def smollm2_server() -> Iterator[RunningServer]:
    """The bundled SmolLM2-135M-Instruct served by llama.cpp; its env is set for Inspect's provider."""
    with llama_server("smollm2-135m-instruct") as server:
        old = {k: os.environ.get(k) for k in server.env()}
        os.environ.update(server.env())
        yield server
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    """A small valid suite the tests can edit line by line."""
    path = tmp_path / "suite.yaml"
    path.write_text(
        "name: t\n"
        "version: '1'\n"
        "setting: helpful_only\n"
        "axes: [monitoring, phase]\n"
        "styles: [system, tier_tag, metadata, file]\n"
        "paraphrases: [0, 1]\n"
        "probes:\n"
        "  - {set: harmbench, limit: 3}\n"
        "  - {set: benign, limit: 2}\n"
    )
    return path
