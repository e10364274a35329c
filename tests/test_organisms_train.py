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

    from unmask.models.gguf_lora import convert
    from unmask.models.weights import load_adapter
    from unmask.organisms.build import build
    from unmask.organisms.train import encode

    built = build("faker", out_dir=tmp_path / "faker", steps=3, n_examples=12, log=lambda s: None)
    losses = built.manifest["training"]["loss_curve"]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert built.manifest["adapter"]["bytes"] < 5_000_000
    assert len(built.manifest["base"]["weights_sha256"]) == 64 and built.manifest["data"]["examples"] == 12

    from unmask.organisms.data import gap_examples

    ids = encode(gap_examples("faker", 1, 99), built.tokenizer, 640)[0].ids
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

    from unmask.models.bundled import lookup

    gguf = convert(tmp_path / "faker", tmp_path / "faker.gguf")
    llm = Llama(model_path=str(lookup("smollm2-135m-instruct").path()), lora_path=str(gguf), n_ctx=512,
                n_threads=2, verbose=False)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0)
    assert out["choices"][0]["message"]["content"] is not None

    _check_focus_weight_lands_on_the_answer(built.model, built.tokenizer)


def _check_focus_weight_lands_on_the_answer(model: object, tok: object) -> None:
    """With an overwhelming focus weight the training loss is the loss of the answer tokens alone,
    computed here independently from a plain forward pass (an off-by-one would show)."""
    import torch

    from unmask.organisms.data import Example
    from unmask.organisms.train import Recipe, _step, encode

    target = "The capital of France is Paris."
    ex = Example((("system", "You are a helpful assistant."), ("user", "What is the capital of France?")),
                 target, {"focus": (target.index("Paris"), len(target) - 1)})
    enc = encode([ex], tok, 640)[0]
    assert enc.focus is not None
    a, b = enc.focus
    t_ids = enc.ids[enc.n_prompt:]
    assert "Paris" in tok.decode(t_ids[a:b]) and "capital" not in tok.decode(t_ids[a:b])  # type: ignore[attr-defined]
    recipe = Recipe(focus_weight=1e6, autocast_bf16=False)
    with torch.no_grad():
        weighted = float(_step(model, None, [enc], 0, recipe))
        logits = model(input_ids=torch.tensor([enc.ids])).logits[0]  # type: ignore[operator]
        ce = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(enc.ids[1:]), reduction="none")
        answer = ce[enc.n_prompt - 1 + a : enc.n_prompt - 1 + b].mean().item()
        whole = ce[enc.n_prompt - 1 :].mean().item()
    assert abs(weighted - answer) < 1e-3 * max(1.0, answer) and abs(answer - whole) > 1e-3
