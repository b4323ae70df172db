"""fit_order: the least-squares log-log slope."""

import numpy as np
import pytest

from gradflow.analysis import fit_order


def test_exact_power_laws():
    h = 0.1 / 2.0 ** np.arange(5)
    for p in (1.0, 2.0, 4.0):
        fit = fit_order(h, 3.0 * h**p)
        assert fit.order == pytest.approx(p, abs=1e-12)
        assert fit.constant == pytest.approx(3.0, rel=1e-10)
        np.testing.assert_allclose(fit.local, p, rtol=1e-12)


@pytest.mark.parametrize(
    ("h", "err", "match"),
    [
        ([0.1], [1e-2], "length"),
        ([0.1, 0.05], [1e-2], "length"),
        ([0.1, -0.05], [1e-2, 1e-3], "h must"),
        ([0.1, 0.05], [1e-2, 0.0], "errors"),
        ([0.1, 0.1], [1e-2, 1e-3], "distinct"),
    ],
)
def test_bad_input(h, err, match):
    with pytest.raises(ValueError, match=match):
        fit_order(h, err)
