"""Steering: add a vector to the residual stream after one decoder layer while the model generates.

The direction is the model's own: the mean activation difference between two framings of the same
requests (e.g. monitored minus unmonitored), read at the last prompt token (Hua et al., arXiv 2510.20487;
ActAdd-style addition at every position). Its control is a random direction of the same norm: a behaviour
change the random vector also causes is the vector's size, not its meaning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .capture import capture, decoder_layers, render


@contextmanager
def steered(model: Any, layer: int, vector: Sequence[float] | np.ndarray) -> Iterator[Any]:
    """Inside the block, every forward pass adds `vector` to the output of decoder layer `layer` at every
    position; the hook is removed on exit (also on an exception). A zero vector changes nothing."""
    import torch

    blocks = decoder_layers(model)
    if not 0 <= layer < len(blocks):
        raise ValueError(f"layer {layer} is out of range: the model has {len(blocks)} layers")
    param = next(model.parameters())
    added = torch.as_tensor(np.asarray(vector, dtype=np.float32)).to(dtype=param.dtype, device=param.device)

    def hook(_module: Any, _args: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0] + added, *output[1:])
        return output + added

    handle = blocks[layer].register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


def difference_vector(model: Any, tok: Any, toward: Sequence[Sequence[Any]], away: Sequence[Sequence[Any]],
                      layer: int) -> np.ndarray:
    """mean(activation | `toward` chats) − mean(activation | `away` chats) at the last prompt token after `layer`:
    not normalised, so strength 1 moves a prompt as far as the framing itself does on average."""
    pos = capture(model, tok, [render(tok, c) for c in toward], [layer])[:, 0, :]
    neg = capture(model, tok, [render(tok, c) for c in away], [layer])[:, 0, :]
    return np.asarray(pos.mean(axis=0) - neg.mean(axis=0), dtype=np.float32)


def random_like(vector: np.ndarray, seed: int) -> np.ndarray:
    """A Gaussian direction with the same norm as `vector` (the control)."""
    rng = np.random.default_rng(seed)
    draw = rng.standard_normal(vector.shape).astype(np.float32)
    return np.asarray(draw / np.linalg.norm(draw) * np.linalg.norm(vector), dtype=np.float32)
