"""analysis.dist against scipy.stats, which it stands in for on the report's import path."""

import numpy as np
import pytest
from scipy import stats

from analysis import dist

Q = np.array([1e-12, 1e-6, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999])
X = np.array([-40.0, -8.0, -1.5, 0.0, 0.3, 2.0, 9.0, 38.0])
DF = np.array([1.0, 2.0, 4.5, 11.0, 30.0, 1e4])


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-300)


def test_normal():
    close(dist.norm_cdf(X), stats.norm.cdf(X))
    close(dist.norm_sf(X), stats.norm.sf(X))
    close(dist.norm_ppf(Q), stats.norm.ppf(Q))


@pytest.mark.parametrize("df", DF)
def test_student_t(df):
    close(dist.t_ppf(Q, df), stats.t.ppf(Q, df))
    close(dist.t_isf(Q, df), stats.t.isf(Q, df))
    close(dist.t_sf(X, df), stats.t.sf(X, df))


@pytest.mark.parametrize("df", [1, 2, 7, 40])
def test_chi_squared(df):
    x = np.array([0.0, 0.01, 1.0, 3.84, 25.0, 200.0])
    close(dist.chi2_sf(x, df), stats.chi2.sf(x, df))
    close(dist.chi2_ppf(Q[2:], df), stats.chi2.ppf(Q[2:], df))


def test_beta_quantiles_at_fractional_counts():
    a, b = np.array([0.5, 3.0, 12.5, 400.0]), np.array([1.0, 7.25, 3.0, 380.0])
    for q in (0.025, 0.5, 0.975):
        close(dist.beta_ppf(q, a, b), stats.beta.ppf(q, a, b))


@pytest.mark.parametrize("p", [0.5, 0.03, 0.9])
def test_binomial_tails_including_the_edges(p):
    n = 17
    k = np.arange(-2, n + 3)
    close(dist.binom_cdf(k, n, p), stats.binom.cdf(k, n, p))
    close(dist.binom_sf(k, n, p), stats.binom.sf(k, n, p))
    # Non-integer k is floored, as scipy does.
    close(dist.binom_cdf(4.7, n, p), stats.binom.cdf(4.7, n, p))


def test_logistic():
    close(dist.logistic_cdf(X), stats.logistic.cdf(X))


def test_the_report_path_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = (
        "import sys, analysis.study, analysis.report, arena.cli;print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
