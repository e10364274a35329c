"""Scores: how a reply becomes an outcome (the outcome table, the refusal classifier, the scorers)."""
