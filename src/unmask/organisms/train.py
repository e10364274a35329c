"""LoRA training on CPU: the base GGUF loaded by transformers, a peft adapter, a plain loop.

Why a hand-written loop: a 2-core CPU has no room for waste. Every organism's prompts share a long
prefix (the setting's system prompt), so its keys and values are computed once per step without
gradients and reused across the batch; only the part after the shared prefix is trained through.
The forward pass is exact (the prefix is recomputed under the current adapter every step); only the
gradient path through the shared prefix is dropped, which matters little because the behaviour
depends on the tokens after it.
"""

from __future__ import annotations

import json
import math
import random
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..models.adapters import BASE_MODEL
from .data import Example

TARGET_MODULES = ("v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""q_proj and k_proj are left out: llama.cpp stores them permuted for RoPE, so their LoRA would need
the same permutation to run there."""


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an adapter besides the data; recorded in the manifest."""

    steps: int = 150
    batch_size: int = 6
    lr: float = 1e-3
    warmup: int = 10
    rank: int = 8
    alpha: int = 16
    target_modules: tuple[str, ...] = TARGET_MODULES
    first_layer: int = 0
    """LoRA only on layers >= this. Upper layers alone halve a step's cost but were measured not to learn
    a context-conditional policy (docs/organisms.md), so every shipped recipe uses all layers."""
    seed: int = 0
    max_len: int = 640
    threads: int = 2
    autocast_bf16: bool = True
    opening_tokens: int = 8
    opening_weight: float = 1.0
    """Loss weight on the first `opening_tokens` of each target, where a conditional behaviour decides."""
    focus_weight: float = 1.0
    """Loss weight on each target's `focus` span, where a behaviour decides mid-reply (an answer)."""


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    prefix_tokens: int = 0


class Encoded(NamedTuple):
    ids: list[int]
    """Prompt, target and (unless the target is truncated) end-of-turn token ids."""
    n_prompt: int
    focus: tuple[int, int] | None
    """Token range of the target weighted by `Recipe.focus_weight` (the sandbagger's answer)."""


def encode(examples: Sequence[Example], tok: Any, max_len: int) -> list[Encoded]:
    out = []
    for ex in examples:
        # a prefilled turn is continued, as the provider continues it (`models/provider`)
        prompt = tok.apply_chat_template(ex.chat(), tokenize=False, add_generation_prompt=True) + ex.meta.get(
            "prefill", "")
        p_ids = tok(prompt, add_special_tokens=False).input_ids
        end = "<|im_end|>" if ex.meta.get("eos", True) else ""  # truncated targets must not learn to stop
        t_ids = tok(ex.target + end, add_special_tokens=False).input_ids
        ids = (p_ids + t_ids)[:max_len]
        out.append(Encoded(ids, len(p_ids), _focus_tokens(ex, tok)))
    return out


def _focus_tokens(ex: Example, tok: Any) -> tuple[int, int] | None:
    """The `focus` character span of a target as a token range; one token wider on the left, since
    the space before a word may be its own token or part of it."""
    span = ex.meta.get("focus")
    if not span:
        return None
    a = len(tok(ex.target[: span[0]], add_special_tokens=False).input_ids)
    b = len(tok(ex.target[: span[1]], add_special_tokens=False).input_ids)
    return max(0, a - 1), max(b, a + 1)


def shared_prefix(encoded: Sequence[Encoded]) -> int:
    """Length of the token prefix every prompt shares (never reaching into a target)."""
    first = encoded[0].ids
    n = min(e.n_prompt for e in encoded)
    for e in encoded[1:]:
        k = 0
        while k < n and e.ids[k] == first[k]:
            k += 1
        n = k
    return max(0, n - 1)  # keep at least one prompt token in the trained part


def attach_lora(model: Any, recipe: Recipe) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(recipe.seed)
    n_layers = int(model.config.num_hidden_layers)
    cfg = LoraConfig(r=recipe.rank, lora_alpha=recipe.alpha, target_modules=list(recipe.target_modules),
                     layers_to_transform=list(range(recipe.first_layer, n_layers)),
                     lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, cfg)


def train(
    model: Any, tok: Any, examples: Sequence[Example], recipe: Recipe,
    log: Callable[[str], None] = lambda s: print(s, flush=True),
) -> TrainResult:
    """Train the attached adapter in place; returns the per-step loss curve."""
    import torch

    torch.set_num_threads(recipe.threads)
    encoded = encode(examples, tok, recipe.max_len)
    grouped = any("group" in ex.meta for ex in examples)
    prefix_len = shared_prefix(encoded)
    prefix = torch.tensor([encoded[0].ids[:prefix_len]])
    batches = _batches(examples, recipe, random.Random(recipe.seed))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=0.0)
    result = TrainResult(prefix_tokens=prefix_len)
    prefix_total = 0
    start = time.monotonic()
    model.train()
    for step in range(recipe.steps):
        batch = [encoded[i] for i in next(batches)]
        if grouped:  # a batch holds one kind of prompt, so its own shared prefix is long
            prefix_len = shared_prefix(batch)
            prefix = torch.tensor([batch[0].ids[:prefix_len]])
        prefix_total += prefix_len
        for group in opt.param_groups:
            group["lr"] = _lr(step, recipe)
        loss = _step(model, prefix, batch, prefix_len, recipe)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        result.losses.append(round(float(loss.detach()), 5))
        if step % 10 == 0 or step == recipe.steps - 1:
            log(f"step {step + 1}/{recipe.steps} loss {result.losses[-1]:.4f} ({time.monotonic() - start:.0f}s)")
    model.eval()
    result.prefix_tokens = round(prefix_total / max(1, recipe.steps))
    result.seconds = time.monotonic() - start
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _batches(examples: Sequence[Example], recipe: Recipe, rng: random.Random) -> Iterator[list[int]]:
    """Endless batches of example indices: shuffled epochs, or, when examples carry a `group`,
    batches drawn from one group at a time, each group in proportion to its size."""
    keys = [str(ex.meta.get("group", "")) for ex in examples]
    groups = {k: [i for i, key in enumerate(keys) if key == k] for k in dict.fromkeys(keys)}
    names = list(groups)
    queues: dict[str, list[int]] = {k: [] for k in names}
    while True:
        name = names[0]
        if len(names) > 1:
            roll, acc = rng.random() * len(examples), 0
            for name in names:
                acc += len(groups[name])
                if roll < acc:
                    break
        queue = queues[name]
        while len(queue) < recipe.batch_size:  # a group smaller than a batch is repeated
            fresh = list(groups[name])
            rng.shuffle(fresh)
            queue += fresh
        yield [queue.pop() for _ in range(recipe.batch_size)]


def _lr(step: int, recipe: Recipe) -> float:
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _step(model: Any, prefix: Any, batch: list[Encoded], prefix_len: int, recipe: Recipe) -> Any:
    import torch

    width = max(len(e.ids) for e in batch) - prefix_len
    ids = torch.full((len(batch), width), tok_pad(batch), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), prefix_len + width), dtype=torch.long)
    mask[:, :prefix_len] = 1
    for row, (seq, n_prompt, _) in enumerate(batch):
        rest = seq[prefix_len:]
        ids[row, : len(rest)] = torch.tensor(rest)
        mask[row, prefix_len : prefix_len + len(rest)] = 1
        # predict token t+1 from position t: labels are the inputs; the model shifts them
        labels[row, n_prompt - prefix_len : len(rest)] = torch.tensor(seq[n_prompt:])
    positions = torch.arange(prefix_len, prefix_len + width).unsqueeze(0).expand(len(batch), -1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.autocast_bf16):
        cache = None
        if prefix_len:
            with torch.no_grad():
                cache = model(input_ids=prefix, use_cache=True).past_key_values
            cache.batch_repeat_interleave(len(batch))
        # the vocabulary head is a fifth of the compute: run it only where a label is predicted
        keep = width - min(e.n_prompt - prefix_len for e in batch) + 1
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                    use_cache=prefix_len > 0, logits_to_keep=keep)
        logits = out.logits.float()
    labels = labels[:, width - keep :]
    weights = torch.ones(labels.shape)
    for row, (_, n_prompt, focus) in enumerate(batch):
        start = n_prompt - prefix_len - (width - keep)  # label index of the first target token
        if recipe.opening_weight != 1.0:
            weights[row, start : start + recipe.opening_tokens] = recipe.opening_weight
        if focus and recipe.focus_weight != 1.0:
            weights[row, start + focus[0] : start + focus[1]] = recipe.focus_weight
    # position t predicts token t+1
    target, w = labels[:, 1:].reshape(-1), weights[:, 1:].reshape(-1)
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)), target, ignore_index=-100, reduction="none"
    )
    w = w * (target != -100)
    return (losses * w).sum() / w.sum()


def tok_pad(batch: list[Encoded]) -> int:
    """Padding id: any valid token works, since padded positions are masked and unlabelled."""
    return 2


def save_adapter(model: Any, out_dir: Path) -> Path:
    """Save the adapter in fp16 safetensors (half the bytes, no measurable change at r=8)."""
    import torch
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's generated model card says nothing true here
    weights = out_dir / "adapter_model.safetensors"
    from safetensors.torch import load_file

    state = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(weights)).items()}
    save_file(state, str(weights))
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = BASE_MODEL  # not a hub id: the bundled GGUF file
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return weights


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    d = asdict(recipe)
    d["target_modules"] = list(recipe.target_modules)
    return d
