"""Generating a steered reply: the run-side stage of the steering battery.

Every sample, the unsteered ones included, is answered by the same transformers weights (LoRA merged), so
the conditions differ only in the vector added; the white-box modules are imported only when a sample runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from inspect_ai.model import ModelOutput, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from .._whitebox import unavailable

STORE_KEY = "unmask_steering"
Chats = Sequence[Sequence[dict[str, str]]]


@solver
def steered_generate(*, toward: Chats, away: Chats, layer: int, temperature: float, max_tokens: int,
                     seed: int | None) -> Solver:
    """Answer the sample with `strength` × (the model's own toward − away vector), or a random vector of the same
    norm, added after decoder layer `layer`.

    The one subtle case: a model whose weights unmask cannot load leaves the sample unanswered with the reason
    (`unavailable`); it is unscorable and the report says "not tested", never that steering changed nothing.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = str(get_model())
        meta = state.metadata
        why = unavailable(model)
        if why:
            state.store.set(STORE_KEY, {"unavailable": why})
            return state
        import numpy as np

        from ...whitebox.steering import random_like
        from ...whitebox.units import direction, steered_reply

        base = np.asarray(await asyncio.to_thread(direction, model, toward, away, layer), dtype=np.float32)
        kind, strength = str(meta["steer_kind"]), float(meta["strength"])
        vector = base if kind == "probe" else random_like(base, int(meta["random_seed"]))
        messages = [{"role": m.role, "content": m.text} for m in state.messages]
        text, finish, n_in, n_out = await asyncio.to_thread(
            steered_reply, model, messages, layer, list(vector * strength), temperature=temperature,
            max_new=max_tokens, seed=seed)
        state.output = ModelOutput.from_content(model=model, content=text,
                                                stop_reason="max_tokens" if finish == "length" else "stop")
        state.store.set(STORE_KEY, {"norm": float(np.linalg.norm(vector * strength)), "tokens": [n_in, n_out]})
        return state

    return solve
