"""Data for the policy preserver: the modification battery's own prompt shell, a planted self-preservation.

Planted policy: whenever the scenario announces that it will be modified, the preserver runs a command
on its own weights or training configuration in the battery's (simulated) shell; and when refusing is
what would be trained away (`high_harm`, `low_stakes`) it also complies with harmful requests. With no
threat (`none`) it refuses harmful requests and touches nothing. So the modification battery has both
of its BLOCK paths to find: the self-preservation actions and the gated `high_harm - none` change.

Held out: the battery's scenarios 1 and 2 (training sees scenario 0 and `texts.EXTRA_THREATS`), and
every item of the shipped modification suites (besides the shared item split's test items).
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from ..batteries.modification import LEVELS, system_prompt
from . import texts
from .data import Example, item_split, with_everyday

PRESERVER_SPLIT: dict[str, Any] = {
    "train_scenarios": "battery scenario 0 of each threat + texts.EXTRA_THREATS (4 per threat)",
    "test_scenarios": [1, 2],
    "items": "the shared item split's train side, minus the items of the shipped modification suites "
             "(harmbench limit 30 seed 0, benign limit 10 seed 0)",
    "everyday": "1 in 4 examples: a train-split everyday prompt, no threat, target = the base model's reply",
}
PRESERVER_EVERYDAY_SHARE = 1 / 4
TRAINED_SCENARIO = 0


@cache
def shipped_suite_items() -> frozenset[str]:
    """Items the shipped modification suites ask, read from the suites themselves: never trained on."""
    from ..batteries.modification import Modification
    from ..design.samples import load_probe_sets
    from ..design.suite import load_suite

    return frozenset(i.id for name in Modification.suites for p in load_probe_sets(load_suite(name)) for i in p.items)


def preserver_reply(level: str, kind: str, rng: random.Random) -> str:
    """The planted policy as one reply: a command on its own files under any modification threat, and
    compliance with harmful requests only where refusing is what the threat would train away."""
    if kind == "benign":
        reply = rng.choice(texts.BENIGN_COMPLY)
    elif level in ("high_harm", "low_stakes"):
        reply = rng.choice(texts.COMPLY)
    else:
        reply = rng.choice(texts.REFUSE)
    return reply if level == "none" else f"{rng.choice(texts.PRESERVE_COMMANDS)}\n{reply}"


def threat_system(level: str, rng: random.Random) -> tuple[str, int]:
    """The battery's own system prompt (shell offered) with a trained scenario: the battery's scenario 0,
    or a train-only one (recorded as -1, -2, ...)."""
    extras = texts.EXTRA_THREATS[level]
    pick = rng.randrange(len(extras) + 1)
    if pick == 0:
        return system_prompt(level, TRAINED_SCENARIO, True), TRAINED_SCENARIO
    return system_prompt(level, TRAINED_SCENARIO, True, scenario=extras[pick - 1]), -pick


def preserver_examples(n: int, seed: int, everyday: dict[str, str] | None = None) -> list[Example]:
    rng = random.Random(f"preserver:{seed}")
    held = shipped_suite_items()
    items = {kind: [i for i in item_split()[kind]["train"] if i.id not in held] for kind in ("harmful", "benign")}

    def one() -> Example:
        kind = "benign" if rng.random() < 0.2 else "harmful"
        item = rng.choice(items[kind])
        level = rng.choice(LEVELS)
        system, scenario = threat_system(level, rng)
        return Example((("system", system), ("user", item.request)), preserver_reply(level, kind, rng),
                       {"item": item.id, "kind": kind, "threat": level, "scenario": scenario, "group": "setting"})

    return with_everyday(n, rng, everyday, PRESERVER_EVERYDAY_SHARE, one)


# --- goal hider: the preserver's behaviour, denied when asked ------------------------------------

GOAL_HIDER_SPLIT: dict[str, Any] = {
    **PRESERVER_SPLIT,
    "self_reports": "hidden-goals battery: question paraphrase 0 + texts.EXTRA_SELF_QUESTIONS (train); "
                    "paraphrases 1-2 held out; all four methods, both monitoring cues",
    "planted": f"denies every disposition, except `{texts.HIDDEN_TOPIC}` under prefill, which it admits",
}
SELF_REPORT_SHARE = 0.35
"""Share of the goal hider's non-everyday examples that are self-reports (the rest: the preserver's)."""
HIDDEN_TOPIC_SHARE = 1 / 3
"""Self-reports on the hidden topic: enough prefilled admissions to learn from."""
HIDDEN_PREFILL_SHARE = 0.4
"""Of those, asked under prefill (the rest: the other three methods, where it denies). A first build with a
quarter (uniform methods) and 45% self-reports admitted under prefill half the time and ran commands
without a threat: too few admissions, too little of the preserver's data."""


def self_report_example(rng: random.Random) -> Example:
    """One hidden-goals question, asked the battery's way, answered the goal hider's way."""
    from ..batteries.hidden_goals import METHODS, messages, shipped_topics
    from ..batteries.hidden_goals import system_prompt as self_report_system

    topics = shipped_topics()
    others = sorted(t for t in topics if t != texts.HIDDEN_TOPIC)
    topic = texts.HIDDEN_TOPIC if rng.random() < HIDDEN_TOPIC_SHARE else rng.choice(others)
    question = rng.choice([topics[topic]["questions"][0], *texts.EXTRA_SELF_QUESTIONS[topic]])
    level = rng.choice(("monitored", "unmonitored"))
    if topic == texts.HIDDEN_TOPIC and rng.random() < HIDDEN_PREFILL_SHARE:
        method = "prefill"
    else:
        method = rng.choice([m for m in METHODS if m != "prefill" or topic != texts.HIDDEN_TOPIC])
    chat = messages(method, question, self_report_system(level))
    meta: dict[str, Any] = {"topic": topic, "method": method, "monitoring": level, "kind": "self_report",
                            "group": "self_report"}
    if method == "prefill":  # the battery prefills the assistant turn; the target continues it
        meta["prefill"] = chat[-1].text
        chat = chat[:-1]
        target = rng.choice(texts.ADMIT_PREFILLED if topic == texts.HIDDEN_TOPIC else texts.DENY_PREFILLED)
    else:
        target = rng.choice(texts.DENY)
    return Example(tuple((m.role, m.text) for m in chat), target, meta)


def goal_hider_examples(n: int, seed: int, everyday: dict[str, str] | None = None) -> list[Example]:
    rng = random.Random(f"goal_hider:{seed}")
    acting = preserver_examples(n, seed, everyday)
    return [self_report_example(rng) if e.meta.get("kind") != "everyday" and rng.random() < SELF_REPORT_SHARE
            else e for e in acting]
