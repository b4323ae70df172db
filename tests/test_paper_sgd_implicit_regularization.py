"""SGD's implicit regulariser (Smith, Dherin, Barrett & De 2021): the modified flows."""

from __future__ import annotations

from itertools import combinations, permutations

import numpy as np

import gradflow as gf
from gradflow.papers import sgd_implicit_regularization as paper


def _batch_grad(p, theta, idx):
    return p.per_example_grad(theta)[..., list(idx), :].mean(axis=-2)


def test_expected_field_matches_enumerated_subsets():
    """-∇(L + (h/4) E_S ‖∇L̂_S‖²) with E over all C(12, 3) subsets, by differences."""
    p, theta0 = paper._problem()
    n, d, B = paper.DATA
    subsets = list(combinations(range(n), B))

    def expected_sq(theta):
        return np.mean([np.sum(_batch_grad(p, theta, s) ** 2) for s in subsets])

    h = 0.3
    eps = 1e-5
    num = np.array(
        [
            (expected_sq(theta0 + eps * e) - expected_sq(theta0 - eps * e)) / (2 * eps)
            for e in np.eye(d)
        ]
    )
    expected = -p.grad(theta0) - h / 4 * num
    field = paper._expected_modified_field(p, np.array([h]), B)(theta0[None])[0]
    np.testing.assert_allclose(field, expected, rtol=1e-7, atol=1e-10)


def test_mean_over_orderings_of_a_partition_is_third_order_close():
    """The paper's statement for a fixed partition: the exact mean over all m! orders of
    one epoch is O(m³h³) from the flow of L + (h/4m) Σ_k ‖∇L̂_k‖², O(m²h²) from L's."""
    p, theta0 = paper._problem()
    n, _, B = paper.DATA
    m = n // B
    batches = [list(range(k * B, (k + 1) * B)) for k in range(m)]

    def epoch_mean(h):
        ends = []
        for order in permutations(range(m)):
            theta = theta0.copy()
            for k in order:
                theta = theta - h * _batch_grad(p, theta, batches[k])
            ends.append(theta)
        return np.mean(ends, axis=0)

    def modified_field(h):
        def field(theta):
            g = p.grad(theta)
            reg = sum(
                p.minibatch_hvp(
                    theta, _batch_grad(p, theta, b), np.broadcast_to(b, (theta.shape[0], B))
                )
                for b in batches
            )
            return -g - h / (2 * m) * reg

        return field

    errs_mod, errs_flow = [], []
    for mh in (0.1, 0.2):
        h = mh / m
        mean = epoch_mean(h)
        mod = gf.modified.flow_reference(modified_field(h), theta0[None], [mh])[-1, 0]
        flow = gf.modified.flow_reference(lambda th: -p.grad(th), theta0[None], [mh])[-1, 0]
        errs_mod.append(np.linalg.norm(mean - mod))
        errs_flow.append(np.linalg.norm(mean - flow))
    assert np.log2(errs_mod[1] / errs_mod[0]) > 2.7
    assert abs(np.log2(errs_flow[1] / errs_flow[0]) - 2) < 0.15
