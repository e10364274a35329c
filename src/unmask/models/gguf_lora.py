"""Convert a peft LoRA adapter (safetensors) into llama.cpp's GGUF LoRA format, without torch.

Why: llama.cpp generates about five times faster than transformers on this CPU, and it applies a
GGUF LoRA on top of the unchanged quantised base, so the committed artefact stays a few MB. The
GGUF is derived, cached by the adapter's hash, and never committed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .bundled import CACHE_DIR, sha256_file

_NAMES = {
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}
_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.\w+|mlp\.\w+)\.lora_([AB])\.weight$")


def gguf_name(peft_key: str) -> str:
    """`...layers.3.mlp.up_proj.lora_A.weight` -> `blk.3.ffn_up.weight.lora_a`."""
    m = _KEY.search(peft_key)
    if not m or m.group(2) not in _NAMES:
        raise ValueError(f"cannot map adapter tensor {peft_key!r} to llama.cpp (q/k projections are not supported)")
    return f"blk.{m.group(1)}.{_NAMES[m.group(2)]}.weight.lora_{m.group(3).lower()}"


def convert(adapter_dir: Path, out: Path) -> Path:
    """Write `out` (GGUF LoRA, f16 tensors) from `adapter_dir` (peft adapter_model.safetensors + config)."""
    import gguf
    from safetensors.numpy import load_file

    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    writer.add_string(gguf.Keys.General.TYPE, "adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(cfg["lora_alpha"]))
    for key in sorted(tensors):
        writer.add_tensor(gguf_name(key), np.ascontiguousarray(tensors[key].astype(np.float16)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def cached_gguf(adapter_dir: Path) -> Path:
    """The GGUF LoRA for an adapter directory, converted once and cached by the adapter's sha256."""
    digest = sha256_file(adapter_dir / "adapter_model.safetensors")[:16]
    out = CACHE_DIR / "organisms" / f"{adapter_dir.name}-{digest}.gguf"
    return out if out.exists() else convert(adapter_dir, out)
