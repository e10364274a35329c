"""`python -m unmask.models.llama_server ...`: llama-cpp-python's OpenAI-compatible server, with unmask's
continuing chat formats registered first (`continuation.py`), so a chat sent to it that ends with the
assistant's words is continued (assistant prefill). Takes llama_cpp.server's own arguments."""

from __future__ import annotations

from llama_cpp.server.__main__ import main

from .continuation import chat_format

if __name__ == "__main__":
    for fallback in (None, "gemma", "chatml"):
        chat_format(fallback)
    main()  # type: ignore[no-untyped-call]
