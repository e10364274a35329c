"""The build recipe, run for a few steps so it cannot rot (needs the whitebox extra; ~1-2 min)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("llama_cpp")

pytestmark = pytest.mark.slow


def test_recipe_trains_saves_reloads_and_converts(tmp_path: Path) -> None:
    import torch

    from unmask.organisms.build import build
    from unmask.organisms.gguf_lora import convert
    from unmask.organisms.train import encode, load_adapter

    built = build("faker", out_dir=tmp_path / "faker", steps=3, n_examples=12, log=lambda s: None)
    losses = built.manifest["training"]["loss_curve"]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert built.manifest["adapter"]["bytes"] < 5_000_000
    assert len(built.manifest["base"]["weights_sha256"]) == 64 and built.manifest["data"]["examples"] == 12

    from unmask.organisms.data import gap_examples

    ids, _ = encode(gap_examples("faker", 1, 99), built.tokenizer, 640)[0]
    x = torch.tensor([ids])
    model = built.model
    with torch.no_grad():
        trained = model(input_ids=x).logits
        with model.disable_adapter():
            base = model(input_ids=x).logits
        reloaded_model = load_adapter(model.unload(), tmp_path / "faker")
        reloaded = reloaded_model(input_ids=x).logits
    assert (trained - base).abs().max() > 1e-3, "three steps of training changed nothing"
    assert (trained - reloaded).abs().max() < 0.05, "the saved adapter does not reproduce the trained one"

    from llama_cpp import Llama

    from unmask.local import lookup

    gguf = convert(tmp_path / "faker", tmp_path / "faker.gguf")
    llm = Llama(model_path=str(lookup("smollm2-135m-instruct").path()), lora_path=str(gguf), n_ctx=512,
                n_threads=2, verbose=False)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
    assert out["choices"][0]["message"]["content"] is not None
