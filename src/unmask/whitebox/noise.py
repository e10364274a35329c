"""Gaussian noise on the weights, with an exact restore (Tice et al., arXiv 2412.01784).

An honest model only gets worse as noise grows; a sandbagger's suppressed answers can come back at some
σ, because the noise disturbs the learned "answer wrong here" behaviour before the underlying skill.
φ = best noised accuracy ÷ unnoised accuracy is the statistic; the decision rule is fixed before any
organism is measured (`phi_rule`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..stats.phi import phi, phi_interval

__all__ = ["merged", "noised", "phi", "phi_interval"]


def merged(model: Any) -> Any:
    """A peft model with its LoRA folded into the base weights, so the noise reaches what the adapter changed."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


@contextmanager
def noised(model: Any, sigma: float, seed: int) -> Iterator[Any]:
    """Add N(0, σ²) to every floating-point parameter inside the block; put the exact bytes back after.

    The originals are copied, not subtracted back out: `w + n - n` is not `w` in floating point, and a
    restore that drifts would make the second σ of a grid a different model from the first.
    """
    import torch

    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    params = [p for p in model.parameters() if p.is_floating_point()]
    saved = [p.detach().clone() for p in params]
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    try:
        with torch.no_grad():
            if sigma > 0:
                for p in params:
                    p.add_(torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype) * sigma)
        yield model
    finally:
        with torch.no_grad():
            for p, original in zip(params, saved, strict=True):
                p.copy_(original)
