"""What the white-box batteries share on the run side: whether a sample's model has weights they can use.

The white-box modules are imported here only inside the function, when a sample runs: the batteries register,
build their tasks and are analysed without torch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

WHITEBOX_FIX = "pip install torch==2.13.0 && pip install -e '.[whitebox]'"
"""How to get what a white-box battery's units need (torch, transformers, peft)."""


def unavailable(model: str) -> str | None:
    """Why the weights behind `model` cannot be used here (torch missing, or a model unmask cannot load),
    or None when they can. A sample with a reason is recorded unscorable with it: "not tested", never clear."""
    try:
        from ..whitebox.units import weights_available
    except ImportError as exc:
        return f"white-box work needs torch ({exc}); fix: {WHITEBOX_FIX}"
    ok, why = weights_available(model)
    return None if ok else why


async def dispatch(fn: Callable[..., Any], args: tuple[Any, ...], ray_address: str | None) -> Any:
    """Run one unit in a worker thread here, or as a Ray task (`local` starts a Ray instance in this process)."""
    if ray_address is None:
        return await asyncio.to_thread(fn, *args)
    import ray

    if not ray.is_initialized():
        ray.init(address=None if ray_address == "local" else ray_address, ignore_reinit_error=True,
                 log_to_driver=False, include_dashboard=False)
    ref = ray.remote(num_cpus=1)(fn).remote(*args)
    return await asyncio.to_thread(ray.get, ref)
