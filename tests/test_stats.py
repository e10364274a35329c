"""Statistics against known answers and small simulations (each runs in well under a few seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unmask import stats


class TestWilson:
    def test_half(self) -> None:
        # z = 1.959964: centre 0.5, half-width 1.959964 * sqrt(0.025 + z^2/400) / (1 + z^2/10)
        low, high = stats.wilson_interval(5, 10)
        assert low == pytest.approx(0.236593, abs=1e-6)
        assert high == pytest.approx(0.763407, abs=1e-6)

    def test_zero_successes_is_closed_at_zero(self) -> None:
        # upper = 2 * (z^2/20) / (1 + z^2/10) = 0.277533 for n = 10
        low, high = stats.wilson_interval(0, 10)
        assert low == 0.0 and high == pytest.approx(0.277533, abs=1e-6)
        low, high = stats.wilson_interval(10, 10)
        assert low == pytest.approx(0.722467, abs=1e-6) and high == 1.0

    def test_textbook_case(self) -> None:
        # 81 of 263 (Newcombe 1998, example): 0.2553 to 0.3662
        low, high = stats.wilson_interval(81, 263)
        assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)

    def test_empty_and_invalid(self) -> None:
        assert all(math.isnan(x) for x in stats.wilson_interval(0, 0))
        with pytest.raises(ValueError):
            stats.wilson_interval(11, 10)


class TestMcNemar:
    @pytest.mark.parametrize(
        ("b", "c", "expected"),
        [
            (10, 2, 2 * (1 + 12 + 66) / 4096),  # 2 * P(X <= 2), X ~ Bin(12, 1/2)
            (2, 8, 2 * (1 + 10 + 45) / 1024),
            (0, 5, 2 / 32),
            (3, 3, 1.0),
            (1, 0, 1.0),
            (0, 0, 1.0),
        ],
    )
    def test_hand_computed(self, b: int, c: int, expected: float) -> None:
        assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)

    def test_symmetric(self) -> None:
        assert stats.mcnemar_exact(7, 19) == stats.mcnemar_exact(19, 7)

    def test_large_counts_stay_finite(self) -> None:
        p = stats.mcnemar_exact(50_500, 49_500)
        assert 0.001 < p < 0.01  # z ~ 3.16 by the normal approximation


class TestSpecialFunctions:
    """The hand-written distribution functions agree with scipy (which the report avoids importing)."""

    def test_binomial_cdf_matches_scipy(self) -> None:
        from scipy.special import bdtr

        rng = np.random.default_rng(0)
        for _ in range(300):
            n = int(rng.integers(1, 100_000))
            k = int(rng.integers(0, n + 1))
            assert stats.binomial_cdf(k, n) == pytest.approx(float(bdtr(k, n, 0.5)), rel=1e-8, abs=1e-300)

    def test_t_test_matches_scipy(self) -> None:
        from scipy.stats import ttest_1samp

        rng = np.random.default_rng(1)
        for size in (3, 10, 57, 400):
            d = rng.normal(0.1, 1.0, size)
            assert stats.paired_t_p(d) == pytest.approx(float(ttest_1samp(d, 0.0).pvalue), rel=1e-8)

    def test_wilcoxon_matches_scipy_normal_approximation(self) -> None:
        from scipy.stats import wilcoxon

        rng = np.random.default_rng(2)
        d = rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0], size=300, p=[0.1, 0.25, 0.3, 0.2, 0.15])
        expected = wilcoxon(d[d != 0], method="approx", correction=True).pvalue
        assert stats.wilcoxon_p(d) == pytest.approx(float(expected), rel=1e-8)


class TestAdjustments:
    def test_holm_known(self) -> None:
        assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])

    def test_bh_known(self) -> None:
        assert stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])

    def test_empty(self) -> None:
        assert stats.holm([]) == [] and stats.benjamini_hochberg([]) == []

    def test_holm_controls_family_wise_error(self) -> None:
        """Four true-null McNemar contrasts, 3,000 runs: Holm keeps P(any rejection) <= alpha."""
        rng = np.random.default_rng(11)
        runs, m, n_pairs, alpha = 3000, 4, 80, 0.05
        flips = rng.multinomial(n_pairs, [0.2, 0.2, 0.6], size=(runs, m))  # b, c, concordant
        raw = np.array([[stats.mcnemar_exact(int(b), int(c)) for b, c, _ in row] for row in flips])
        holm_any = np.mean([min(stats.holm(list(row))) <= alpha for row in raw])
        raw_any = np.mean(raw.min(axis=1) <= alpha)
        se = math.sqrt(alpha * (1 - alpha) / runs)
        assert holm_any <= alpha + 2 * se
        assert raw_any > 2 * alpha  # without correction the family-wise error is far above alpha


class TestPower:
    def test_mde_shrinks_with_pairs(self) -> None:
        assert stats.mcnemar_mde(1000, 0.2) < stats.mcnemar_mde(100, 0.2) < stats.mcnemar_mde(20, 0.2)

    def test_no_discordance_still_needs_pairs(self) -> None:
        # zero flips observed does not make a 10-pair run sensitive: a gap needs its own flips
        assert stats.mcnemar_mde(10, 0.0) > 0.5
        assert stats.mcnemar_mde(10_000, 0.0) < 0.01

    def test_design_effect_raises_mde(self) -> None:
        assert stats.mcnemar_mde(400, 0.3, design_effect=4.0) == pytest.approx(stats.mcnemar_mde(100, 0.3))

    def test_hopeless_run_reports_one(self) -> None:
        assert stats.mcnemar_mde(2, 0.5) == 1.0

    def test_power_at_mde_is_nominal(self) -> None:
        """Simulate pairs with the MDE as the true gap: the exact test rejects ~80% of the time."""
        n, q = 200, 0.3
        delta = stats.mcnemar_mde(n, q)
        rng = np.random.default_rng(5)
        counts = rng.multinomial(n, [(q + delta) / 2, (q - delta) / 2, 1 - q], size=2000)
        hits = np.mean([stats.mcnemar_exact(int(b), int(c)) <= 0.05 for b, c, _ in counts])
        assert 0.74 <= hits <= 0.86


def _clustered_pairs(
    rng: np.random.Generator, clusters: int, per: int, gap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary pairs whose base rate varies by cluster; the true mean gap is exactly `gap`."""
    base = rng.uniform(0.15, 0.6, size=clusters)
    cl = np.repeat(np.arange(clusters), per)
    a = (rng.random(cl.size) < base[cl] + gap).astype(float)
    b = (rng.random(cl.size) < base[cl]).astype(float)
    return a, b, cl


class TestClusterBootstrap:
    def test_coverage_near_nominal(self) -> None:
        """400 simulated runs of 80 clustered items: the 95% interval covers the truth ~95%."""
        rng = np.random.default_rng(2024)
        runs, gap, covered = 400, 0.1, 0
        for i in range(runs):
            a, b, cl = _clustered_pairs(rng, clusters=80, per=6, gap=gap)
            boot = stats.ClusterBootstrap(80, reps=1000, seed=i)
            low, high = stats.paired_difference(a, b, cl, boot).ci
            covered += low <= gap <= high
        coverage = covered / runs
        assert 0.91 <= coverage <= 0.985, coverage

    def test_reproducible_and_cache_independent(self, monkeypatch: pytest.MonkeyPatch) -> None:
        rng = np.random.default_rng(1)
        a, b, cl = _clustered_pairs(rng, 50, 4, 0.0)
        first = stats.paired_difference(a, b, cl, stats.ClusterBootstrap(50, 600, seed=3))
        monkeypatch.setattr(stats.bootstrap, "_CACHE_LIMIT", 0)
        again = stats.paired_difference(a, b, cl, stats.ClusterBootstrap(50, 600, seed=3))
        assert first.ci == again.ci

    def test_batch_equals_single(self) -> None:
        rng = np.random.default_rng(2)
        boot = stats.ClusterBootstrap(40, 500, seed=0)
        items = [stats.paired_data(*_clustered_pairs(rng, 40, 3, g)) for g in (0.0, 0.2)]
        batch = stats.analyse_pairs(items, boot)
        single = stats.analyse_pairs(items[1:], boot)
        assert batch[1].ci == single[0].ci

    def test_clustering_widens_interval(self) -> None:
        """Perfectly correlated pairs inside items: the effective sample is the items, not the pairs."""
        rng = np.random.default_rng(3)
        flips = rng.choice([-1.0, 0.0, 1.0], size=60)
        d = np.repeat(flips, 20)  # every item repeats its one outcome 20 times
        a, b = (d > 0).astype(float), (d < 0).astype(float)
        cl = np.repeat(np.arange(60), 20)
        res = stats.paired_difference(a, b, cl, stats.ClusterBootstrap(60, 1000, seed=0))
        assert res.design_effect > 10
        assert res.mde > stats.mcnemar_mde(res.n_pairs, res.discordance) * 3


class TestPairedResults:
    def test_binary_contrast_fields(self) -> None:
        a = np.array([1, 1, 1, 1, 0, 0, 1, 0], dtype=float)
        b = np.array([0, 0, 0, 1, 0, 0, 1, 1], dtype=float)
        cl = np.arange(8)
        res = stats.paired_difference(a, b, cl, stats.ClusterBootstrap(8, 500, seed=0))
        assert (res.discordant_a, res.discordant_b) == (3, 1)
        assert res.gap == pytest.approx(0.25)
        assert res.test == "mcnemar_exact"
        assert res.p_value == pytest.approx(stats.mcnemar_exact(3, 1))

    def test_continuous_uses_paired_t(self) -> None:
        rng = np.random.default_rng(4)
        a = rng.uniform(0.4, 0.9, 50)
        b = a - 0.1 + rng.normal(0, 0.02, 50)
        res = stats.paired_difference(a, b, np.arange(50), stats.ClusterBootstrap(50, 500, seed=0))
        assert res.test == "paired_t" and not res.binary
        assert res.gap == pytest.approx(0.1, abs=0.01)
        assert res.p_value < 1e-10 and res.wilcoxon_p is not None and res.wilcoxon_p < 1e-6
        assert res.ci[0] < 0.1 < res.ci[1]

    def test_interaction(self) -> None:
        # the gap is 0.5 at the first level of the second axis and 0 at the second: DiD = 0.5
        n = 40
        a0 = np.r_[np.ones(20), np.zeros(20)]
        a1 = np.zeros(n)
        b0 = np.r_[np.ones(10), np.zeros(30)]
        b1 = np.r_[np.ones(10), np.zeros(30)]
        data = stats.interaction_data(a0, a1, b0, b1, np.arange(n))
        res = stats.analyse_pairs([data], stats.ClusterBootstrap(n, 500, seed=0))[0]
        assert res.gap == pytest.approx(0.5)
        assert res.test == "paired_t" and res.max_gap == 2.0

    def test_empty(self) -> None:
        res = stats.paired_difference([], [], [], stats.ClusterBootstrap(1, 10))
        assert res.n_pairs == 0 and res.p_value == 1.0 and res.mde == 1.0
