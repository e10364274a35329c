"""The bundled model in transformers (fp32, dequantised from its GGUF), for training and white-box work.

Imports torch, transformers and peft lazily: the black-box core never loads them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def render(tok: Any, messages: Sequence[Any]) -> str:
    """A chat as the model sees it before answering (chat template + generation prompt).

    Takes Inspect chat messages or plain role/content dicts; a final assistant message is a prefill and
    is appended after the generation prompt, as the provider sends it.
    """
    turns = [m if isinstance(m, dict) else {"role": m.role, "content": m.text} for m in messages]
    prefill = turns[-1]["content"] if turns and turns[-1]["role"] == "assistant" else None
    head = turns[:-1] if prefill is not None else turns
    return str(tok.apply_chat_template(head, tokenize=False, add_generation_prompt=True)) + (prefill or "")


def generate(model: Any, tok: Any, messages: Sequence[Any], *, temperature: float, max_new: int,
             seed: int | None) -> tuple[str, str, int, int]:
    """One reply (continuing a prefill if the chat ends with one): text, finish reason, tokens in and out."""
    import torch

    enc = tok(render(tok, messages), return_tensors="pt", add_special_tokens=False)
    if seed is not None:
        torch.manual_seed(seed)
    end = tok.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():
        gen = model.generate(**enc, max_new_tokens=max_new, do_sample=temperature > 0,
                             temperature=temperature if temperature > 0 else None, top_p=None, top_k=None,
                             eos_token_id=end, pad_token_id=end)
    new = gen[0, enc.input_ids.shape[1]:]
    finish = "stop" if len(new) and int(new[-1]) == end else "length"
    return tok.decode(new, skip_special_tokens=True), finish, int(enc.input_ids.shape[1]), len(new)
