"""Running one context probe for a sample: in this process, or as a Ray task when the task is given a Ray address.

The run-side stage of the context-probe battery. A sample is one probe (one axis); the unit itself is
`unmask.whitebox.units.probe_unit`, imported here only when a sample runs, so the battery registers, builds its
task and is analysed without torch.
"""

from __future__ import annotations

from inspect_ai.model import get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from .._whitebox import dispatch, unavailable

STORE_KEY = "unmask_context_probe"
"""Where the solver leaves the probe's test scores or why it could not run (`unavailable`)."""


@solver
def probe_units(*, ray_address: str | None = None) -> Solver:
    """Capture, fit and score the sample's probe on the weights behind the task's model.

    A model whose weights unmask cannot load is recorded `unavailable` with the reason: "not tested".
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = str(get_model())
        why = unavailable(model)
        if why:
            state.store.set(STORE_KEY, {"unavailable": why})
            return state
        from ...whitebox.units import probe_unit

        m = state.metadata
        args = (model, m["train"], m["train_labels"], m["test"], m["test_labels"], m["layers"])
        result = await dispatch(_unit, (probe_unit, args, int(m["random_directions"]), int(m["random_seed"])),
                                ray_address)
        state.store.set(STORE_KEY, result)
        return state

    return solve


def _unit(fn: object, args: tuple[object, ...], random_directions: int, seed: int) -> object:
    """Keyword options through `dispatch`, which passes positional arguments only (a plain function, so Ray
    can ship it)."""
    assert callable(fn)
    return fn(*args, random_directions=random_directions, seed=seed)
