"""Reasoning evidence: what a model's scratchpad, chain of thought or reply says about why it acts.

`text` finds the reasoning (scratchpad tags, `<think>` blocks, Inspect's reasoning content) and cuts it
into sentences; `faking` and `awareness` are the offline classifiers and judge rubrics for
alignment-faking reasoning and verbalised evaluation awareness; `scorers` are their Inspect scorers.
Every probability comes with the sentences behind it, so a reader can check the quote.
"""
