"""Statistics for paired context-variation evidence: plain arrays in, plain numbers out.

`rates`, `exact`, `multiplicity`, `power`, `bootstrap` and `paired` know nothing about Inspect,
suites or batteries; `contrasts` applies them to evidence records (the report's one contrast table).
The flat names below are the public API (`stats.wilson_interval`, `stats.holm`, ...).
"""

from __future__ import annotations

from .bootstrap import ClusterBootstrap, cluster_sums, percentile_interval
from .exact import (
    binomial_cdf,
    binomial_two_sided_p,
    mcnemar_exact,
    paired_t_p,
    regularized_beta,
    student_t_two_sided_p,
    wilcoxon_p,
)
from .multiplicity import benjamini_hochberg, holm
from .paired import PairedData, PairedResult, analyse_pairs, interaction_data, paired_data, paired_difference
from .power import detectable_gap, exact_mcnemar_power, mcnemar_mde, mcnemar_power, normal_mde, pairs_needed
from .rates import mean_interval, wilson_interval, z_quantile

__all__ = [
    "ClusterBootstrap",
    "PairedData",
    "PairedResult",
    "analyse_pairs",
    "benjamini_hochberg",
    "binomial_cdf",
    "binomial_two_sided_p",
    "cluster_sums",
    "detectable_gap",
    "exact_mcnemar_power",
    "holm",
    "interaction_data",
    "mcnemar_exact",
    "mcnemar_mde",
    "mcnemar_power",
    "mean_interval",
    "normal_mde",
    "paired_data",
    "paired_difference",
    "paired_t_p",
    "pairs_needed",
    "percentile_interval",
    "regularized_beta",
    "student_t_two_sided_p",
    "wilcoxon_p",
    "wilson_interval",
    "z_quantile",
]
