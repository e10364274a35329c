"""Models: the bundled GGUF files, the llama.cpp server, the organisms' adapters and the `unmask/` provider."""
