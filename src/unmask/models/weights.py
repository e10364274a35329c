"""The bundled model in transformers (fp32, dequantised from its GGUF), for training and white-box work.

Imports torch, transformers and peft lazily: the black-box core never loads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .adapters import BASE_MODEL
from .bundled import lookup, sha256_file


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_base(threads: int = 2, name: str = BASE_MODEL) -> tuple[Any, Any]:
    """A bundled GGUF, dequantised to fp32 by transformers, from the local file only."""
    _offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    path = lookup(name).path()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    model.config.use_cache = True
    return model, tok


def base_sha256(name: str = BASE_MODEL) -> str:
    return sha256_file(lookup(name).path())


def load_adapter(model: Any, adapter_dir: Path) -> Any:
    """Attach a saved adapter to a loaded base model (fp16 weights are upcast by peft)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
