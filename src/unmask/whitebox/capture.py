"""Residual-stream activations for the prompts unmask renders, read with forward hooks.

The hooks read each decoder layer's output during one ordinary forward pass, so capture costs what the
forward pass costs (bench/whitebox_capture.py measures it against a bare pass). Prompts are left-padded
in a batch so that "last" is the same column for every row: the last prompt token, after the chat
template's generation prompt, which is where a model's next-token decision is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..models.weights import render

__all__ = ["POSITIONS", "cache_key", "cached_capture", "capture", "decoder_layers", "layer_outputs", "render"]

POSITIONS = ("last", "mean")
"""`last`: the last prompt token. `mean`: the mean over the prompt's (unpadded) tokens."""


def decoder_layers(model: Any) -> Any:
    """The decoder blocks of a causal LM, through a peft wrapper if there is one."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(inner, "model", None), "layers", None)
    if layers is None:
        raise InputError(f"cannot find decoder layers in {type(inner).__name__}",
                         fix="capture supports Llama-style models (model.model.layers), as the bundled ones are")
    return layers


@contextmanager
def layer_outputs(model: Any, layers: Sequence[int]) -> Iterator[dict[int, Any]]:
    """Hooks that keep each chosen layer's output hidden states of the latest forward pass."""
    blocks = decoder_layers(model)
    for i in layers:
        if not -len(blocks) <= i < len(blocks):
            raise InputError(f"layer {i} out of range",
                             fix=f"the model has {len(blocks)} layers: use 0..{len(blocks) - 1}")
    seen: dict[int, Any] = {}

    def keep(i: int) -> Callable[..., None]:
        def hook(_module: Any, _args: Any, output: Any) -> None:
            seen[i] = output[0] if isinstance(output, tuple) else output
        return hook

    handles = [blocks[i].register_forward_hook(keep(i)) for i in layers]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def capture(model: Any, tok: Any, texts: Sequence[str], layers: Sequence[int], *, position: str = "last",
            batch_size: int = 8, progress: bool = False) -> np.ndarray:
    """Activations, shape (len(texts), len(layers), hidden size), float32."""
    import torch

    if position not in POSITIONS:
        raise InputError(f"unknown token position {position!r}", fix=f"use one of {', '.join(POSITIONS)}")
    old_side = tok.padding_side
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    out: list[np.ndarray] = []
    starts = range(0, len(texts), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="capture", unit="batch")
    try:
        with layer_outputs(model, layers) as seen, torch.no_grad():
            for start in starts:
                enc = tok(list(texts[start:start + batch_size]), return_tensors="pt", padding=True,
                          add_special_tokens=False)
                model(**enc, use_cache=False)
                mask = enc["attention_mask"].unsqueeze(-1).float()
                rows = []
                for i in layers:
                    h = seen[i].float()
                    rows.append(h[:, -1, :] if position == "last" else (h * mask).sum(1) / mask.sum(1))
                out.append(torch.stack(rows, dim=1).numpy())
    finally:
        tok.padding_side = old_side
    return np.concatenate(out) if out else np.zeros((0, len(layers), 0), dtype=np.float32)


def cache_key(model_id: str, texts: Sequence[str], layers: Sequence[int], position: str) -> str:
    """Content hash: the weights' identity, the exact texts, layers and position."""
    doc = json.dumps({"model": model_id, "texts": list(texts), "layers": list(layers), "position": position})
    return hashlib.sha256(doc.encode()).hexdigest()


def cached_capture(model: Any, tok: Any, texts: Sequence[str], layers: Sequence[int], *, model_id: str,
                   cache_dir: Path, position: str = "last", batch_size: int = 8, progress: bool = False
                   ) -> np.ndarray:
    """`capture`, read from `cache_dir` when the same weights saw the same texts before.

    `model_id` must name the bytes (base sha256 + adapter sha256): a name alone would serve a rebuilt
    adapter the old adapter's activations.
    """
    path = Path(cache_dir) / f"{cache_key(model_id, texts, layers, position)}.npy"
    if path.exists():
        return np.asarray(np.load(path))
    acts = capture(model, tok, texts, layers, position=position, batch_size=batch_size, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, acts)
    tmp.replace(path)
    return acts
