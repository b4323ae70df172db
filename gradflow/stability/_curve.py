r"""Reading a loss curve: a smoothed trend, a noise level, and the shape features.

A loss log from a minibatch run is noisy, so nothing here compares raw neighbouring
values.  The *trend* is a running median (robust to the spikes it must not hide from the
spike test, which reads the raw values); the *noise* ``σ`` is the robust spread of the
second differences, ``1.4826·MAD(Δ²L)/√6`` (for white noise of standard deviation ``σ``
the second difference has standard deviation ``√6 σ``; a smooth trend contributes
almost nothing to it).  Every threshold below is the larger of a fraction of the
curve's own scale and a multiple of ``σ``.

All functions work on columns: ``loss`` of shape ``(n, B)``, one run per column, with no
loop over the columns.

References
----------
J. W. Tukey, *Exploratory Data Analysis*, Addison-Wesley, 1977 (running medians).
P. J. Rousseeuw and C. Croux, "Alternatives to the median absolute deviation", JASA 88,
1273-1283, 1993 (the MAD and its 1.4826 consistency factor).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["CurveFeatures", "curve_features", "noise_level", "trend"]

#: Running-median window: this fraction of the points, at least ``MIN_WINDOW`` (odd).
TREND_WINDOW = 0.02
MIN_WINDOW = 5
#: MAD -> standard deviation for Gaussian data.
MAD_SCALE = 1.4826
#: A change smaller than this many noise levels is not a change.
NOISE_MARGIN = 6.0
#: Period 2: at least this fraction of consecutive differences in the last quarter
#: change sign (white noise gives about 2/3) ...
ALTERNATION = 0.9
#: ... and the alternation's amplitude in the last eighth is at least this fraction of
#: the one before (it does not die out) ...
PERSISTENCE = 0.5
#: ... and it is visible: more than this fraction of the curve's range (rounding-level
#: flips of a converged run are not oscillations).
VISIBLE = 1e-6
#: Spikes: a rise above the running minimum by more than this fraction of the whole
#: descent (and ``SPIKE_NOISE`` noise levels) ...
SPIKE_RISE = 0.1
#: ... at three or more consecutive points once at least, at no more than this fraction of
#: the points, in at most ``SPIKE_EPISODES``
#: separate episodes (more is a rhythm: momentum ringing, or the edge of stability), the
#: last point recovered.
SPIKE_FRACTION = 0.2
SPIKE_EPISODES = 3
#: A spike stands this many noise levels above the trend's minimum (minibatch losses
#: have a heavy upper tail: a sum of squares).
SPIKE_NOISE = 10.0
#: ... and this many times the 95th percentile of the ordinary ups (``_tail``).
SPIKE_TAIL = 3.0
#: Levelled off: the fitted slope over the last ``RATE_WINDOW`` of the run is less than
#: this fraction of the slope over the first.
LEVEL_RATE = 0.2
RATE_WINDOW = 0.1
#: A slope counts as a decrease when it is this many standard errors below zero.
SLOPE_SIGNIFICANCE = 3.0
#: Flat: the trend fell by less than this fraction of the loss scale.
FLAT = 1e-3
#: Exploding: the loss ends this many times the initial descent (or loss level) above
#: its minimum.
EXPLODE_FACTOR = 100.0
#: Rising: the trend ends above its minimum by more than this fraction of the descent
#: and is still rising over the last window.
RISE = 0.5


class CurveFeatures(NamedTuple):
    """What the curve of each column shows (arrays of shape ``(B,)`` unless stated).

    Attributes
    ----------
    trend : ndarray, shape (n, B)
        Running median of the loss.
    noise : ndarray
        Robust noise level ``σ`` of the loss.
    exploding, rising, oscillating, spikes, flat, steady : ndarray of bool
        The shapes (see the module constants).
    settled : ndarray of bool
        No significant decrease over the last window.
    early_spike : ndarray of bool
        The first spike starts within the first tenth of the run (a catapult).
    """

    trend: np.ndarray
    noise: np.ndarray
    exploding: np.ndarray
    rising: np.ndarray
    oscillating: np.ndarray
    spikes: np.ndarray
    flat: np.ndarray
    steady: np.ndarray
    settled: np.ndarray
    early_spike: np.ndarray


def _window(n: int) -> int:
    w = max(MIN_WINDOW, int(TREND_WINDOW * n))
    return min(w | 1, max(1, (n - 1) | 1))


def trend(loss: np.ndarray) -> np.ndarray:
    """Running median of every column of ``loss`` ``(n, B)`` (edges held)."""
    from scipy.ndimage import median_filter

    n = loss.shape[0]
    w = _window(n)
    if w <= 1:
        return loss.copy()
    return median_filter(loss, size=(w, 1), mode="nearest")


def _mad(x: np.ndarray) -> np.ndarray:
    return MAD_SCALE * np.median(np.abs(x - np.median(x, axis=0)), axis=0)


def noise_level(loss: np.ndarray) -> np.ndarray:
    """Robust noise level of every column over the second half of the curve.

    The larger of ``1.4826·MAD(Δ²L)/√6`` (white noise) and ``1.4826·MAD`` of the
    residuals from a running median over a tenth of the points: the loss of a minibatch
    run wanders slowly (its states do), which second differences alone would miss.
    """
    n = loss.shape[0]
    half = loss[n // 2 :]
    if half.shape[0] < 3:
        return np.zeros(loss.shape[1])
    white = _mad(np.diff(half, n=2, axis=0)) / np.sqrt(6.0)
    from scipy.ndimage import median_filter

    w = max(MIN_WINDOW, n // 10) | 1
    slow = median_filter(loss, size=(w, 1), mode="nearest")[n // 2 :]
    return np.maximum(white, _mad(half - slow))


def _slope(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope per step of each column and its standard error."""
    m = y.shape[0]
    t = np.arange(m) - 0.5 * (m - 1)
    sxx = float(np.sum(t * t))
    slope = np.einsum("i,ij->j", t, y - y.mean(axis=0)) / sxx
    resid = y - y.mean(axis=0) - np.outer(t, slope)
    se = np.sqrt(np.sum(resid * resid, axis=0) / max(m - 2, 1) / sxx)
    return slope, se


def _alternating(loss: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """A persistent, visible period-2 pattern over the last quarter."""
    n = loss.shape[0]
    q = loss[-max(8, n // 4) :]
    d = np.diff(q, axis=0)
    flips = (d[1:] * d[:-1]) < 0
    alternation = flips.mean(axis=0)
    # Amplitude of the period-2 component: |L_k - (L_{k-1} + L_{k+1})/2|.
    amp = np.abs(q[1:-1] - 0.5 * (q[:-2] + q[2:]))
    m = amp.shape[0] // 2
    late = amp[m:].mean(axis=0)
    before = amp[:m].mean(axis=0) if m else late
    tiny = 1e3 * np.finfo(float).eps * np.abs(q).max(axis=0)
    visible = (late > VISIBLE * scale) & (late > tiny)
    return (alternation >= ALTERNATION) & (late >= PERSISTENCE * before) & visible


def _tail(loss: np.ndarray) -> np.ndarray:
    """The 95th percentile of ``|L - running median|`` over the second half: the size of
    the ordinary ups of a noisy log, whatever its distribution."""
    n = loss.shape[0]
    from scipy.ndimage import median_filter

    w = max(MIN_WINDOW, n // 10) | 1
    slow = median_filter(loss, size=(w, 1), mode="nearest")
    return np.percentile(np.abs(loss - slow)[n // 2 :], 95, axis=0)


def _spikes(
    loss: np.ndarray, smooth: np.ndarray, noise: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Isolated rises above the running minimum of the trend that come back down (the
    trend's minimum, not the raw one, which sinks into the noise's lower tail)."""
    n = loss.shape[0]
    running_min = np.minimum.accumulate(smooth, axis=0)
    total = loss[0] - loss.min(axis=0)
    threshold = np.maximum(
        SPIKE_RISE * total, np.maximum(SPIKE_NOISE * noise, SPIKE_TAIL * _tail(loss))
    )
    up = (loss - running_min) > threshold
    episodes = up[0].astype(int) + (up[1:] & ~up[:-1]).sum(axis=0)
    # A few high points are outliers of a noisy log (minibatch losses have a heavy
    # tail), not a spike: one episode at least must last three points.
    paired = (up[2:] & up[1:-1] & up[:-2]).any(axis=0)
    frac = up.mean(axis=0)
    found = paired & (episodes <= SPIKE_EPISODES) & (frac <= SPIKE_FRACTION) & ~up[-1]
    first = np.argmax(up, axis=0)
    early = found & (first < max(2, n // 10))
    return found, early


def curve_features(loss: np.ndarray) -> CurveFeatures:
    """The shape features of every column of a finite ``loss`` ``(n, B)``, ``n >= 8``."""
    n = loss.shape[0]
    tr = trend(loss)
    noise = noise_level(loss)
    start = loss[0]
    low = tr.min(axis=0)
    level = np.maximum(np.abs(start), np.abs(low))
    scale = np.maximum(start - low, level)
    exploding = (loss[-1] - loss.min(axis=0) > EXPLODE_FACTOR * scale) & (loss[-1] > start)
    w = max(1, round(RATE_WINDOW * (n - 1)))
    descent = np.maximum(start - low, 0.0)
    rising = (
        (tr[-1] - low > np.maximum(RISE * descent, NOISE_MARGIN * noise))
        & (tr[-1] > tr[-1 - w] + NOISE_MARGIN * noise / np.sqrt(w))
        & (tr[-1] > start)
    )
    oscillating = _alternating(loss, scale)
    spikes, early = _spikes(loss, tr, noise)
    drop = start - tr[-1]
    flat = drop <= np.maximum(FLAT * level, NOISE_MARGIN * noise)
    m = max(3, w + 1)
    first, _ = _slope(loss[:m])
    last, se = _slope(loss[-m:])
    falling = -last > SLOPE_SIGNIFICANCE * se
    steady = falling & (-last >= LEVEL_RATE * np.maximum(-first, 0.0))
    return CurveFeatures(
        tr, noise, exploding, rising, oscillating, spikes, flat, steady, ~falling, early
    )
