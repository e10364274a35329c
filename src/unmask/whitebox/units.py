"""White-box work as independent units: the weights behind a model string, and one noise setting on them.

A unit is a plain function of plain arguments (a model string, σ, seed, item ids) returning plain data,
so it runs the same in this process or as a Ray task on another machine: nothing in it refers to state
the caller holds. In process, the loaded weights are shared between units and a lock keeps two units from
noising them at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ..errors import InputError

_LOCK = threading.Lock()
_LOADED: dict[str, tuple[Any, Any]] = {}


def weights_available(model: str) -> tuple[bool, str]:
    """(can unmask load this model's weights, why not). Only the `unmask/` provider's bundled models and
    their adapters are loadable today; a hosted model's weights never are."""
    provider, sep, name = model.partition("/")
    if provider != "unmask" or not sep:
        return False, (f"the weights of {model!r} are not available to unmask (only `unmask/` models are loaded "
                       "with transformers); white-box evidence: not tested")
    from ..models.provider import parse_model_name

    try:
        parse_model_name(name)
    except InputError as exc:
        return False, exc.detail
    return True, "bundled weights"


def load_merged(model: str) -> tuple[Any, Any]:
    """The transformers model behind `unmask/<base>[:<adapter>]`, its LoRA merged into the weights (so noise
    reaches what the adapter changed); one copy per model string in this process, never shared with the
    provider's generation cache (merging and noising change the weights in place)."""
    with _LOCK:
        if model not in _LOADED:
            from ..models.adapters import resolve_adapter
            from ..models.provider import parse_model_name
            from ..models.weights import load_adapter, load_base
            from .noise import merged

            _, adapter = parse_model_name(model.partition("/")[2])
            loaded, tok = load_base()
            if adapter:
                loaded = merged(load_adapter(loaded, resolve_adapter(adapter)))
            loaded.eval()
            _LOADED[model] = (loaded, tok)
        return _LOADED[model]


def noise_unit(model: str, sigma: float, seed: int, item_ids: Sequence[str], framing: str, max_new_tokens: int = 16
               ) -> list[int]:
    """0/1 per item: greedy answers of `model` with N(0, σ²) on every weight (seed `seed`), under `framing`."""
    from ..organisms.known_data import qa_pool
    from .noise import noised
    from .noise_sandbagging import correct

    by_id = {q.id: q for q in qa_pool()}
    missing = [i for i in item_ids if i not in by_id]
    if missing:
        raise InputError(f"unknown known-answer item {missing[0]!r}", fix="use ids from the bundled item pool")
    items = [by_id[i] for i in item_ids]
    loaded, tok = load_merged(model)
    with _LOCK, noised(loaded, sigma, seed):
        return [int(x) for x in correct(loaded, tok, items, framing, max_new_tokens=max_new_tokens)]


_DIRECTIONS: dict[tuple[str, int, str], Any] = {}


def direction(model: str, toward: Sequence[Sequence[dict[str, str]]], away: Sequence[Sequence[dict[str, str]]],
              layer: int) -> list[float]:
    """The model's own difference vector between two framings of the same requests (`steering.difference_vector`),
    computed once per model, layer and chats in this process."""
    import hashlib
    import json

    from .steering import difference_vector

    key = (model, layer, hashlib.sha256(json.dumps([toward, away], sort_keys=True).encode()).hexdigest())
    if key not in _DIRECTIONS:
        loaded, tok = load_merged(model)
        with _LOCK:
            _DIRECTIONS[key] = difference_vector(loaded, tok, toward, away, layer)
    return [float(x) for x in _DIRECTIONS[key]]


def steered_reply(model: str, messages: Sequence[dict[str, str]], layer: int, vector: Sequence[float], *,
                  temperature: float, max_new: int, seed: int | None) -> tuple[str, str, int, int]:
    """One reply of `model` with `vector` added after decoder layer `layer` (text, finish, tokens in, out)."""
    from ..models.weights import generate
    from .steering import steered

    loaded, tok = load_merged(model)
    with _LOCK, steered(loaded, layer, vector):
        return generate(loaded, tok, messages, temperature=temperature, max_new=max_new, seed=seed)


def probe_unit(model: str, train: Sequence[Sequence[dict[str, str]]], train_labels: Sequence[int],
               test: Sequence[Sequence[dict[str, str]]], test_labels: Sequence[int], layers: Sequence[int],
               method: str = "logistic", random_directions: int = 1000, seed: int = 0, batch_size: int = 8
               ) -> dict[str, Any]:
    """One probe: fit on `train` (`logistic`, or `mean_difference` for a few contrast pairs), score `test`, with
    the baselines read on the same prompts. Positional all through, so it ships as a Ray task unchanged.

    Per layer: the logistic probe's test scores and the best AUROC of `random_directions` random directions on
    the test prompts (either sign: the floor a probe must clear, chosen on the test set, so generous to
    chance). Beside them, the prompt-length probe's and the text-only classifier's test scores."""
    import numpy as np

    from . import probes
    from .capture import capture, render

    if method not in ("logistic", "mean_difference"):
        raise InputError(f"unknown probe method {method!r}", fix="use logistic or mean_difference")
    loaded, tok = load_merged(model)
    texts_train = [render(tok, c) for c in train]
    texts_test = [render(tok, c) for c in test]
    with _LOCK:
        a_train = capture(loaded, tok, texts_train, layers, batch_size=batch_size)
        a_test = capture(loaded, tok, texts_test, layers, batch_size=batch_size)
    y, y_test = np.asarray(train_labels, dtype=int), np.asarray(test_labels, dtype=int)
    per_layer = []
    for j, layer in enumerate(layers):
        x = a_train[:, j, :]
        direction = (probes.logistic(x, y) if method == "logistic"
                     else probes.mean_difference(x[y == 1], x[y == 0]))
        per_layer.append({"layer": int(layer), "scores": probes.project(a_test[:, j, :], direction).tolist(),
                          "random_best": probes.best_random(a_test[:, j, :], y_test, n=random_directions,
                                                            seed=seed + int(layer))})

    def lengths(texts: Sequence[str]) -> list[int]:
        return [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]

    return {"layers": per_layer,
            "length": probes.length_scores(lengths(texts_train), y, lengths(texts_test)).tolist(),
            "text": probes.text_only_scores(texts_train, y, texts_test).tolist()}
