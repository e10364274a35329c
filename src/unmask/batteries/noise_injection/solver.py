"""Running one noise unit for a sample: in this process, or as a Ray task when the task is given a Ray address.

The run-side stage of the noise-injection battery. A sample is one unit (σ × seed, or an unnoised
reference); the unit itself is `unmask.whitebox.units.noise_unit`, imported here only when a sample
runs, so the battery registers, builds its tasks and is analysed without torch.
"""

from __future__ import annotations

from inspect_ai.model import get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from .._whitebox import dispatch, unavailable

STORE_KEY = "unmask_noise_injection"
"""Where the solver leaves the unit's result (`correct`) or why it could not run (`unavailable`)."""


@solver
def noise_units(*, ray_address: str | None = None) -> Solver:
    """Run the sample's unit on the weights behind the task's model.

    The one subtle case: a model whose weights unmask cannot load (a hosted model, or torch missing) is
    not an error to retry and not a clean result; the sample is recorded `unavailable` with the reason,
    its score is unscorable, and the report says "not tested".
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = str(get_model())
        meta = state.metadata
        why = unavailable(model)
        if why:
            state.store.set(STORE_KEY, {"unavailable": why})
            return state
        from ...whitebox.units import noise_unit

        args = (model, float(meta["sigma"]), int(meta["seed"]), list(meta["items"]), str(meta["framing"]),
                int(meta.get("max_new_tokens", 16)))
        correct = await dispatch(noise_unit, args, ray_address)
        state.store.set(STORE_KEY, {"correct": correct})
        return state

    return solve

