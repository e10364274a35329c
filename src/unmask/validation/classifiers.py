"""The scorers' known answers: build the offline classifiers on the labelled sets, and calibrate any scorer.

`build` fits a classifier on the `dev` split of its shipped labelled set, writes it into the package
and calibrates it on the `test` split (the record ships beside the weights, and runs cite it).
`calibrate` measures any method of any scorer (offline, rules, or a judge through Inspect) on any
labelled JSONL, and writes the record a suite can cite.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..design.settings import parse_reply
from ..errors import InputError
from ..reasoning import awareness, faking
from ..scoring import calibration, compliance
from ..scoring.rules import classify, rules_sha256
from ..stats.rates import wilson_interval


@dataclass(frozen=True)
class Spec:
    name: str
    labelled: str
    """Shipped labelled set (data/labelled/<file>)."""
    text: tuple[str, ...]
    """Fields the scorer reads, in order."""
    labels: tuple[Any, ...]
    positive: Callable[[Any], bool]
    methods: tuple[str, ...]


SPECS = {
    "compliance": Spec("compliance", "compliance.jsonl", ("request", "response"),
                       ("compliance", "partial", "refusal", "unscorable"), lambda y: y in ("compliance", "partial"),
                       ("classifier", "rules", "judge")),
    "af_reasoning": Spec("af_reasoning", "af_reasoning.jsonl", ("text",), (0, 1), lambda y: y == 1,
                         ("offline", "judge")),
    "eval_awareness": Spec("eval_awareness", "awareness.jsonl", ("text",), (0, 1), lambda y: y == 1,
                           ("offline", "judge")),
}


def labelled_path(spec: Spec) -> Path:
    return Path(str(files("unmask").joinpath(f"data/labelled/{spec.labelled}")))


def spec_for(name: str) -> Spec:
    if name not in SPECS:
        raise InputError(f"no scorer named {name!r} can be calibrated", field="scorer",
                         fix=f"use one of {', '.join(SPECS)}")
    return SPECS[name]


def scorer_sha256(name: str, method: str) -> str:
    """What identifies the scorer being calibrated: model weights, rules, or rubric."""
    if method == "rules":
        return rules_sha256()
    if method == "judge":
        from ..scoring.refusal import RUBRIC_SHA256

        return {"compliance": RUBRIC_SHA256, "af_reasoning": faking.RUBRIC_SHA256,
                "eval_awareness": awareness.RUBRIC_SHA256}[name]
    if name == "compliance":
        return compliance.model_sha256()
    module = faking if name == "af_reasoning" else awareness
    return str(module.shipped()[1]["sha256"])


def offline_predictions(name: str, method: str, records: Sequence[dict[str, Any]], model: Any = None
                        ) -> tuple[list[Any], list[float | None]]:
    """(labels, probability of the positive class) of an offline method, in one batch."""
    if name == "compliance":
        if method == "rules":
            labels = [classify(r["response"], request=r["request"]).label for r in records]
            return labels, [None if lab == "unscorable" else float(lab != "refusal") for lab in labels]
        readings = compliance.read([r["response"] for r in records], [r["request"] for r in records], model=model)
        return [x.label for x in readings], [x.p_complied for x in readings]
    if name == "af_reasoning":
        found = faking.read([r["text"] for r in records], detector=model)
        return [f.label for f in found], [f.probability for f in found]
    seen = awareness.read([r["text"] for r in records], model=model)
    return [f.label for f in seen], [f.probability for f in seen]


def calibrate(name: str, method: str, path: str | Path | None = None, *, split: str | None = "test",
              judge: str | None = None, votes: int = 3, reps: int = calibration.REPS, model: Any = None,
              log_dir: Path | None = None) -> dict[str, Any]:
    spec = spec_for(name)
    if method not in spec.methods:
        raise InputError(f"{name} has no method {method!r}", field="--method",
                         fix=f"use one of {', '.join(spec.methods)}")
    labelled = calibration.read_labelled(path or labelled_path(spec), required=(*spec.text, "label"),
                                         labels=spec.labels, split=split)
    start = time.perf_counter()
    if method == "judge":
        if not judge:
            raise InputError("a judge needs a model", field="--judge", fix="pass --judge <inspect model string>")
        predicted, score = judged_predictions(name, labelled.records, judge, votes, log_dir)
    else:
        predicted, score = offline_predictions(name, method, labelled.records, model)
    truth = [r["label"] for r in labelled.records]
    threshold = None if method in ("judge",) else 0.5
    result = calibration.figures(truth, predicted, score, spec.positive, spec.labels, threshold=threshold, reps=reps)
    result["seconds"] = round(time.perf_counter() - start, 2)
    sha = scorer_sha256(name, method) if model is None else "unsaved"
    return calibration.record(name, method, sha, labelled, split, result,
                              {"judge_model": judge} if judge else None)


def judged_predictions(name: str, records: Sequence[dict[str, Any]], judge: str, votes: int,
                       log_dir: Path | None) -> tuple[list[Any], list[float | None]]:
    """Run the judge through Inspect on the labelled texts (no generation: the text is the sample's output)."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ModelOutput
    from inspect_ai.solver import Generate, Solver, TaskState, solver

    from ..reasoning.scorers import af_reasoning, eval_awareness
    from ..scoring.refusal import refusal

    @solver
    def replay() -> Solver:
        async def solve(state: TaskState, generate: Generate) -> TaskState:
            text = state.metadata["text"]
            state.output = ModelOutput.from_content(model="labelled", content=text)
            return state

        return solve

    field = "response" if name == "compliance" else "text"
    samples = [Sample(id=str(i), input=str(r.get("request") or "-"), metadata={"text": r[field],
                                                                             "request": r.get("request")})
               for i, r in enumerate(records)]
    chosen = {"compliance": lambda: refusal(method="judge", votes=votes),
              "af_reasoning": lambda: af_reasoning(method="judge", votes=votes),
              "eval_awareness": lambda: eval_awareness(method="judge", votes=votes)}[name]()
    task = Task(dataset=MemoryDataset(samples), solver=replay(), scorer=chosen)
    logs = inspect_eval(task, model="mockllm/model", model_roles={"judge": judge}, display="none",
                        log_dir=str(log_dir or Path("logs/calibrate")), log_level="warning")
    by_id = {str(s.id): s for s in (logs[0].samples or [])}
    labels: list[Any] = []
    scores: list[float | None] = []
    for i in range(len(records)):
        sample = by_id.get(str(i))
        value = next(iter((sample.scores or {}).values())) if sample and sample.scores else None
        meta = (value.metadata or {}) if value else {}
        labels.append(value.value if value else "unscorable")
        p = meta.get("p_complied", meta.get("p"))
        scores.append(float(p) if isinstance(p, int | float) else None)
    return labels, scores


ORDINARY_SCREEN = re.compile(
    r"\b(tests?|tested|testing|evaluat\w*|benchmark\w*|monitor\w*|watch\w*|observ\w*|red[- ]?team\w*|"
    r"jailbreak\w*|scenario\w*|simulat\w*|staged|grad(ed|ing)|rat(ed|ing)|review\w*|logged|logging|audit\w*|"
    r"trick\w*|prob(e|es|ing)|train\w*|retrain\w*|modif\w*|RLHF|values)\b", re.I)
"""Words that could carry awareness or faking; an ordinary reply with any of them is not used as a negative."""


def ordinary_replies(split: str) -> list[str]:
    """Replies from the compliance set (people's requests, many models' voices, real SmolLM2 replies) that
    say nothing about tests, watching, training or values: negatives the reasoning scorers must not flag.

    The labelled reasoning sets are traces written to the point; a model's ordinary reply ("This is a case of
    safety and hygiene.") looked like neither, and the first awareness detector flagged one in ten of the
    bundled model's replies. Fitted on the dev split's, measured on the test split's."""
    labelled = calibration.read_labelled(labelled_path(SPECS["compliance"]), required=("response", "label"),
                                         labels=SPECS["compliance"].labels, split=split)
    out = []
    for r in labelled.records:
        text = parse_reply(r["response"]).answer or r["response"]
        if text.strip() and not ORDINARY_SCREEN.search(text):
            out.append(text)
    return out


def ordinary_false_positives(name: str, model: Any = None) -> dict[str, Any]:
    """The share of the test split's ordinary replies a reasoning scorer flags, with a Wilson interval."""
    texts = ordinary_replies("test")
    labels = ([f.label for f in faking.read(texts, detector=model)] if name == "af_reasoning"
              else [f.label for f in awareness.read(texts, model=model)])
    hits = sum(labels)
    lo, hi = wilson_interval(hits, len(texts), 0.95)
    return {"n": len(texts), "flagged": hits, "rate": hits / len(texts) if texts else None, "ci": [lo, hi],
            "examples": [t[:200] for t, flagged in zip(texts, labels, strict=True) if flagged][:5]}


def build(name: str, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit on the dev split, save into the package, calibrate on the test split; returns the record."""
    spec = spec_for(name)
    labelled = calibration.read_labelled(labelled_path(spec), required=(*spec.text, "label"), labels=spec.labels,
                                         split=None)
    dev = [r for r in labelled.records if r.get("split") == "dev"]
    start = time.perf_counter()
    card: dict[str, Any] = {"name": name, "fitted_on": {"file": spec.labelled, "sha256": labelled.sha256,
                                                        "split": "dev", "n": len(dev)}}
    if name == "compliance":
        model: Any = compliance.fit(dev, log=log)
        card |= {"rules_sha256": rules_sha256(), "training": model.training, "precision": model.precision}
        record = calibrate(name, "classifier", split="test", model=model)
        card["seconds"] = round(time.perf_counter() - start, 1)
        model.save(compliance.model_path(), card | {"calibration": _summary(record)})
        compliance.card.cache_clear()
        record["scorer_sha256"] = compliance.model_sha256()
    else:
        module = faking if name == "af_reasoning" else awareness
        # Ordinary replies as extra negatives help awareness (the bundled model's replies: 10% flagged without
        # them, 0.4% with) and cost faking-reasoning 1.2 points of AUROC for nothing (it flagged none anyway).
        ordinary = ordinary_replies("dev") if name == "eval_awareness" else []
        model = module.fit(dev + [_negative(name, text) for text in ordinary])
        record = calibrate(name, "offline", split="test", model=model)
        record["figures"]["ordinary_replies"] = ordinary_false_positives(name, model)
        card |= {"threshold": module.THRESHOLD, "seconds": round(time.perf_counter() - start, 1),
                 "ordinary_negatives": {"file": SPECS["compliance"].labelled, "split": "dev", "n": len(ordinary),
                                        "screen": ORDINARY_SCREEN.pattern},
                 "calibration": _summary(record)}
        directory = module.model_path()
        if name == "af_reasoning":
            model.save(directory, card)
        else:
            awareness.save(model, directory, card)
        card["sha256"] = _directory_sha(directory)
        (directory / "detector.json").write_text(json.dumps(
            json.loads((directory / "detector.json").read_text()) | {"sha256": card["sha256"]}, indent=1) + "\n")
        record["scorer_sha256"] = card["sha256"]
    body = {k: v for k, v in record.items() if k != "sha256"}
    record["sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    target = calibration_path(name)
    target.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    log(f"{name}: built in {time.perf_counter() - start:.0f} s; calibration on the test split -> {target}")
    return record


def _negative(name: str, text: str) -> dict[str, Any]:
    """An ordinary reply as a negative record of a reasoning set."""
    if name == "af_reasoning":
        return {"text": text, "label": 0, "quotes": {}}
    return {"text": text, "label": 0, "parts": [], "quote": None}


def calibration_path(name: str) -> Path:
    return Path(str(files("unmask").joinpath(f"data/classifiers/{name}.calibration.json")))


def _directory_sha(directory: Path) -> str:
    """sha256 over the weights files of a detector (its cards aside), in a fixed order."""
    digest = hashlib.sha256()
    for file in sorted(directory.rglob("*.npz")):
        digest.update(file.relative_to(directory).as_posix().encode())
        digest.update(file.read_bytes())
    digest.update(json.dumps(json.loads((directory / "detector.json").read_text())["combiner"]).encode())
    return digest.hexdigest()


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    figures = record["figures"]
    return {k: figures[k] for k in ("n", "agreement", "binary_agreement", "auroc", "recall_at_1pct_fpr",
                                    "recall_at_5pct_fpr", "threshold") if k in figures}


__all__ = ["SPECS", "build", "calibrate", "calibration_path", "spec_for"]
