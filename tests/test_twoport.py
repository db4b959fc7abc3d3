"""Two-port factors: K against scikit-rf, the Edwards–Sinsky equivalence, closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stabkit.analysis.twoport import edwards_sinsky_mu, rollett_k, s_delta, twoport_factors

SPARAMS = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "sparams"


def random_s(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mag = rng.uniform(0.0, 1.5, size=(n, 2, 2))
    return mag * np.exp(1j * rng.uniform(-np.pi, np.pi, size=(n, 2, 2)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mu_above_one_iff_k_above_one_and_delta_below_one(seed):
    """Edwards & Sinsky: μ > 1 is equivalent to Rollett's pair K > 1, |Δ| < 1."""
    s = random_s(4000, seed)
    k, d, mu, mu2 = rollett_k(s), np.abs(s_delta(s)), edwards_sinsky_mu(s), edwards_sinsky_mu(s, "load")
    margin = (np.abs(mu - 1) > 1e-9) & (np.abs(k - 1) > 1e-9) & (np.abs(d - 1) > 1e-9)
    assert margin.sum() > 3000
    np.testing.assert_array_equal((mu > 1)[margin], ((k > 1) & (d < 1))[margin])
    np.testing.assert_array_equal((mu2 > 1)[margin], (mu > 1)[margin])


def test_closed_forms():
    # matched attenuator S11 = S22 = 0, S21 = S12 = a: K = (1 + a⁴)/(2a²), μ = μ' = 1/a²
    a = np.array([0.1, 0.5, 0.9])
    s = np.zeros((3, 2, 2), complex)
    s[:, 0, 1] = s[:, 1, 0] = a
    np.testing.assert_allclose(rollett_k(s), (1 + a**4) / (2 * a**2), rtol=1e-12)
    np.testing.assert_allclose(edwards_sinsky_mu(s), 1 / a**2, rtol=1e-12)
    # unilateral (S12 = 0): μ = 1/|S22|, μ' = 1/|S11|, K infinite
    u = np.array([[[0.3 + 0.4j, 0.0], [2.0, 0.6 - 0.2j]]])
    np.testing.assert_allclose(edwards_sinsky_mu(u), 1 / abs(0.6 - 0.2j), rtol=1e-12)
    np.testing.assert_allclose(edwards_sinsky_mu(u, "load"), 1 / abs(0.3 + 0.4j), rtol=1e-12)
    assert np.isinf(rollett_k(u)[0])


def test_k_matches_scikit_rf_on_measured_transistor():
    files = sorted(SPARAMS.glob("BFR840L3RHESD*.s2p")) if SPARAMS.is_dir() else []
    if not files:
        pytest.skip(f"measured S-parameters absent (looked in {SPARAMS}); vendor files are not shipped with stabkit")
    import skrf

    net = skrf.Network(str(files[0]))
    f = twoport_factors(net.s, net.f, "BFR840")
    np.testing.assert_allclose(f.k, net.stability, rtol=1e-12)
    # a bare high-gain transistor is only conditionally stable at low frequencies
    assert f.potentially_unstable_bands() and f.potentially_unstable_bands()[0][0] == net.f[0]
    assert np.array_equal(f.unconditionally_stable, (f.k > 1) & (f.delta_abs < 1))
