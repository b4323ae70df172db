"""The ``gradflow`` command: ``info``, ``demo``, ``papers list | run``, ``stability``."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

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
    # The numeric limit: sympy alone would take longer to import than this whole listing.
    from gradflow.stability import real_stability_limit

    print(
        "\nmethods (gradflow.methods, default parameters): order, real stability limit"
        " (stable iff h·λmax < limit), ODE"
    )
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
                limit = f"{real_stability_limit(inst, algorithm='numeric'):<8.4g}"
            except TypeError:
                limit = f"{'n/a':<8}"  # nonlinear (adaptive) methods
            print(f"  {name:<16} order {obj.order}   limit {limit} {obj.ode}")
    print("  RungeKutta(tableau), tableaux:")
    for name, tableau in methods.TABLEAUX.items():
        beta = real_stability_limit(methods.RungeKutta(tableau), algorithm="numeric")
        embedded = f", embedded order {tableau.embedded_order}" if tableau.has_embedded else ""
        print(
            f"    {name:<16} order {tableau.order}   limit {beta:<8.4g} "
            f"{tableau.stages} stages{embedded}"
        )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gradflow._demo import run_demo

    studies = run_demo()
    # The demo checks its own claim: GD is first order once below the stability limit.
    failed = [s.problem for s in studies if abs(s.order - 1.0) > 0.05]
    if failed:
        print(f"\nobserved order is not 1 ± 0.05 for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cmd_papers_list(args: argparse.Namespace) -> int:
    from gradflow.papers import CITATIONS, PAPERS, load

    for name in PAPERS:
        print(f"{name:<24} {CITATIONS[name]}")
        print(f"{'':<24} claim: {load(name).CLAIM}")
    return 0


def _papers_bar(requested: bool | None, total: int) -> Any:
    """A progress bar over the papers: on when asked, or by default when standard error
    is a terminal and tqdm is installed."""
    if requested is None:
        requested = sys.stderr.isatty() and importlib.util.find_spec("tqdm") is not None
    if not requested:
        return None
    from gradflow._driver.progress import progress_bar

    return progress_bar(total, "papers", "paper")


def _log(bar: Any, line: str) -> None:
    """A progress line on standard error (above the bar, when there is one)."""
    if bar is None:
        print(line, file=sys.stderr, flush=True)
    else:
        bar.write(line, file=sys.stderr)


def _skipped(bar: Any, label: str, module: Any) -> bool:
    """Whether a paper needs an optional module that is not installed (its ``REQUIRES``):
    then it is skipped, saying so, and not counted as a failed claim."""
    missing = [m for m in getattr(module, "REQUIRES", ()) if importlib.util.find_spec(m) is None]
    if missing:
        _log(
            bar, f'{label}: skipped (needs {", ".join(missing)}: pip install "gradflow-ode[test]")'
        )
        if bar is not None:
            bar.update(1)
    return bool(missing)


def _cmd_papers_run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from gradflow.papers import PAPERS, load

    names = list(PAPERS) if args.all else list(args.names)
    if not names:
        print("gradflow papers run: give paper names or --all", file=sys.stderr)
        return 2
    unknown = [n for n in names if n not in PAPERS]
    if unknown:
        print(
            f"gradflow papers run: unknown paper(s) {', '.join(unknown)}; "
            f"known: {', '.join(PAPERS)}",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    size = "quick" if args.quick else "full"
    print(f"running {len(names)} paper(s), {size} size, output in {out}/", file=sys.stderr)
    bar = _papers_bar(args.progress, len(names))
    results = []
    start = time.perf_counter()
    try:
        for i, name in enumerate(names, 1):
            if _skipped(bar, f"[{i}/{len(names)}] {name}", load(name)):
                continue
            _log(bar, f"[{i}/{len(names)}] {name}: running ...")
            try:
                result = load(name).run(out, quick=args.quick)
            except Exception as exc:  # a crash is a failed claim, reported, not a traceback
                _log(bar, f"[{i}/{len(names)}] {name}: ERROR {type(exc).__name__}: {exc}")
                results.append((name, None))
                continue
            finally:
                if bar is not None:
                    bar.update(1)
            verdict = "pass" if result.passed else "FAIL"
            n_ok = sum(c.passed for c in result.checks)
            _log(
                bar,
                f"[{i}/{len(names)}] {name}: {verdict} ({n_ok}/{len(result.checks)} checks, "
                f"{result.runtime:.1f} s)",
            )
            results.append((name, result))
    finally:
        if bar is not None:
            bar.close()
    print(f"\nclaims checked ({size} size, {time.perf_counter() - start:.1f} s):")
    for name, result in results:
        if result is None:
            print(f"\n{name}: ERROR (see above)")
            continue
        print(f"\n{name}: {'PASS' if result.passed else 'FAIL'}  ({result.runtime:.1f} s)")
        print(f"  claim: {result.claim}")
        for c in result.checks:
            mark = "ok  " if c.passed else "FAIL"
            print(f"  [{mark}] {c.description}: {c.measured}  (need {c.criterion})")
    failed = [n for n, r in results if r is None or not r.passed]
    if failed:
        print(f"\nclaims failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall {len(results)} claims hold; figures and numbers in {out}/")
    return 0


def _cmd_stability(args: argparse.Namespace) -> int:
    from gradflow.papers.stability_bounds import method_by_name, start_near_minimum
    from gradflow.problems import ZOO
    from gradflow.stability import verify_bound

    if args.problem not in ZOO:
        print(
            f"gradflow stability: unknown problem {args.problem!r}; known: {', '.join(ZOO)}",
            file=sys.stderr,
        )
        return 2
    try:
        method = method_by_name(args.method)
    except ValueError as exc:
        print(f"gradflow stability: {exc}", file=sys.stderr)
        return 2
    problem = ZOO[args.problem]()
    theta0 = start_near_minimum(problem)
    check = verify_bound(problem, theta0, method)
    lo, hi = (float(b) for b in check.bracket)
    print(f"{args.problem}, {type(method).__name__} ({args.method}): stable iff h·λmax < β")
    print(f"  β (real stability limit)   {float(check.limit):.6g}")
    print(f"  λmax at the minimiser      {float(check.lambda_max):.6g}")
    print(f"  predicted critical step    {float(check.predicted):.6g}")
    print(
        f"  measured critical step     {float(check.measured):.6g}  (bracket {lo:.6g} .. {hi:.6g})"
    )
    print(f"  relative gap               {float(check.relative_gap):+.3%}")
    if not abs(float(check.relative_gap)) <= 0.02:
        print(
            "  note: the measured threshold is not within 2% of the linear prediction; the run "
            "leaves the linear regime (a start far from an isolated minimiser, a degenerate "
            "minimum, or nonlinear instability of the method)"
        )
    return 0


def _missing_subcommand(parser: argparse.ArgumentParser, choices: str) -> int:
    """Usage on stderr and status 2, as argparse does for a missing argument."""
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: a command is required ({choices})", file=sys.stderr)
    return 2


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

    papers = sub.add_parser("papers", help="reproduce published results and check their claims")
    papers_sub = papers.add_subparsers(dest="papers_command", metavar="{list,run}")
    papers.set_defaults(func=lambda args: _missing_subcommand(papers, "list or run"))
    listing = papers_sub.add_parser("list", help="list the reproduced papers and their claims")
    listing.set_defaults(func=_cmd_papers_list)
    running = papers_sub.add_parser(
        "run", help="run papers (by name or --all), check their claims, write figures"
    )
    running.add_argument("names", nargs="*", metavar="NAME", help="papers to run")
    running.add_argument("--all", action="store_true", help="run every paper")
    running.add_argument("--quick", action="store_true", help="the small CI size (seconds)")
    running.add_argument(
        "--out", default="papers-out", metavar="DIR", help="output folder (default papers-out)"
    )
    running.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on standard error (default: on in a terminal, with tqdm)",
    )
    running.set_defaults(func=_cmd_papers_run)

    stability = sub.add_parser(
        "stability", help="predicted vs measured critical step of a method on a zoo problem"
    )
    stability.add_argument("problem", metavar="PROBLEM", help="a problem of `gradflow info`")
    stability.add_argument(
        "--method", default="euler", metavar="M", help="euler (default), rk4, heun, heavyball, ..."
    )
    stability.set_defaults(func=_cmd_stability)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradflow`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        # argparse's convention for a missing command: usage on stderr, status 2.
        parser.print_usage(sys.stderr)
        print("gradflow: error: a command is required (see gradflow --help)", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (``gradflow ... | head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
