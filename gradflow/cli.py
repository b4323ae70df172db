"""The ``gradflow`` command: ``info``, ``demo`` (and, as the package grows, more jobs)."""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Sequence

from gradflow._version import __version__

__all__ = ["build_parser", "main"]


def _cmd_info(args: argparse.Namespace) -> int:
    from gradflow import methods
    from gradflow.problems import ZOO

    print(f"gradflow {__version__}")
    print("\nproblems (gradflow.problems; need no data):")
    for name, factory in ZOO.items():
        problem = factory()
        exact = "exact HVP" if problem.has_exact_hvp else "finite-difference HVP"
        minimum = "" if problem.minimum is None else f", L* = {problem.minimum:.6g}"
        print(f"  {name:<16} d = {problem.dim:<4} {exact}{minimum}")
    print("  least_squares, logistic_regression: built from data (X, y)")
    from gradflow.stability import real_stability_limit

    print("\nmethods (gradflow.methods, default parameters): order, real stability limit"
          " (stable iff h·λmax < limit), ODE")
    for name in methods.__all__:
        obj = getattr(methods, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, methods.Method)
            and obj not in (methods.Method, methods.RungeKutta)
        ):
            try:
                inst = obj()
            except (TypeError, ValueError):
                continue  # wrappers (Clipped) need arguments
            try:
                limit = f"{real_stability_limit(inst):<8.4g}"
            except NotImplementedError:
                limit = f"{'n/a':<8}"  # nonlinear (adaptive) methods
            print(f"  {name:<16} order {obj.order}   limit {limit} {obj.ode}")
    print("  RungeKutta(tableau), tableaux:")
    for name, tableau in methods.TABLEAUX.items():
        beta = real_stability_limit(methods.RungeKutta(tableau))
        embedded = f", embedded order {tableau.embedded_order}" if tableau.has_embedded else ""
        print(f"    {name:<16} order {tableau.order}   limit {beta:<8.4g} "
              f"{tableau.stages} stages{embedded}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gradflow.demo import run_demo

    studies = run_demo()
    # The demo checks its own claim: GD is first order once below the stability limit.
    failed = [s.problem for s in studies if abs(s.order - 1.0) > 0.05]
    if failed:
        print(f"\nobserved order is not 1 ± 0.05 for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gradflow`` command (exposed for extension and tests)."""
    parser = argparse.ArgumentParser(
        prog="gradflow",
        description="Optimisers as numerical integrators of the gradient flow dθ/dt = -∇L(θ).",
    )
    parser.add_argument("--version", action="version", version=f"gradflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="list the problems and methods")
    info.set_defaults(func=_cmd_info)
    demo = sub.add_parser(
        "demo",
        help="GD on Rosenbrock and Müller–Brown against scipy: errors, order, 2/λmax",
    )
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradflow`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
