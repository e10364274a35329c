"""Assistant prefill for the bundled llama.cpp models: a chat that ends with the assistant's own words
is continued from those words, not answered in a fresh turn.

llama.cpp's chat handlers always open a new assistant turn, so "continue this reasoning" would be
read as a finished reply followed by a second one. The handler registered here renders the chat
exactly as the model's own template does (the GGUF's, or a named llama.cpp format for a model that
ships none) and, only when the last message is the assistant's, renders the chat before it with the
generation prompt and appends that text unclosed. Every other request is formatted as before.

Both the in-process provider (`unmask/...`) and the loopback server (`python -m
unmask.models.llama_server`) use it, so Inspect's `llama-cpp-python` provider gets prefill unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_cpp import llama_chat_format as chat
from llama_cpp.llama_chat_format import ChatFormatterResponse, Jinja2ChatFormatter

NAME = "unmask-continuing"
"""`chat_format` for a model whose GGUF carries its chat template; `NAME:<format>` names a llama.cpp
format (e.g. `gemma`) for one that does not."""


class ContinuingFormatter:
    """A chat formatter that continues a trailing assistant message (llama.cpp's `ChatFormatter` protocol)."""

    def __init__(self, inner: Callable[..., ChatFormatterResponse]) -> None:
        self.inner = inner

    def __call__(self, *, messages: list[Any], **kwargs: Any) -> ChatFormatterResponse:
        if not messages or messages[-1].get("role") != "assistant":
            return self.inner(messages=messages, **kwargs)
        opened = self.inner(messages=messages[:-1], **kwargs)
        prefix = str(messages[-1].get("content") or "")
        return ChatFormatterResponse(prompt=opened.prompt + prefix, stop=opened.stop,
                                     stopping_criteria=opened.stopping_criteria, added_special=opened.added_special)


def formatter_for(llama: Any, fallback: str | None) -> ContinuingFormatter:
    """The model's own formatting (its GGUF template, else the llama.cpp format `fallback`), continuing."""
    template = llama.metadata.get("tokenizer.chat_template")
    if template and not fallback:
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        inner: Callable[..., ChatFormatterResponse] = Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llama, eos_id),
            bos_token=_token_text(llama, bos_id),
            stop_token_ids=[eos_id],
        )
    else:
        formats = {"gemma": chat.format_gemma, "chatml": chat.format_chatml}
        if fallback not in formats:
            raise ValueError(f"no chat template in the GGUF and no known fallback format ({fallback!r})")
        inner = formats[fallback]
    return ContinuingFormatter(inner)


def _token_text(llama: Any, token: int) -> str:
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace") if token != -1 else ""


def _handler(fallback: str | None) -> Callable[..., Any]:
    cache: dict[int, Callable[..., Any]] = {}

    def handle(*, llama: Any, **kwargs: Any) -> Any:
        key = id(llama)
        if key not in cache:
            cache[key] = chat.chat_formatter_to_chat_completion_handler(formatter_for(llama, fallback))
        return cache[key](llama=llama, **kwargs)

    return handle


def chat_format(fallback: str | None) -> str:
    """The `chat_format` name to give llama.cpp for a model (registered on first use)."""
    name = NAME if not fallback else f"{NAME}:{fallback}"
    registry = chat.LlamaChatCompletionHandlerRegistry()  # type: ignore[no-untyped-call]
    registry.register_chat_completion_handler(name, _handler(fallback), overwrite=True)
    return name
