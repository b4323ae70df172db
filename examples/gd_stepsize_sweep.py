"""Sweep step sizes × starts in one call and see where h crosses 2/λmax.

Gradient descent on a quadratic with spectrum {1, 10} is stable iff h < 2/10. One
batched call runs every (step size, start) pair; the statuses show the threshold.
"""

import numpy as np

import gradflow as gf

problem = gf.problems.quadratic([1.0, 10.0], seed=0)
critical = 2.0 / problem.eigenvalues.max()
hs = critical * np.array([0.5, 0.9, 0.99, 1.01, 1.1])
starts = np.random.default_rng(0).normal(size=(8, problem.dim))

theta0 = np.broadcast_to(starts, (hs.size, *starts.shape))  # (n_h, n_ic, d)
traj = gf.solve(problem, theta0, stepsize=hs[:, None], steps=20_000, save="final")

for h, status, theta in zip(hs, traj.status, traj.theta[0], strict=True):
    distance = np.linalg.norm(theta, axis=-1).max()
    print(
        f"h = {h:.4f} (h·λmax = {h / critical * 2:.3f}): {set(status.tolist())}, "
        f"max ‖θ‖ = {distance:.3e}"
    )
