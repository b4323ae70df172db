"""Where a result came from: library versions, the date and the git commit.

:func:`environment` is what :meth:`gradflow.Trajectory.save` and the papers' JSON record
beside the numbers, so that a file found months later says which code made it.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

__all__ = ["environment", "git_commit"]

#: Seconds a ``git`` query may take before the commit is recorded as unknown.
GIT_TIMEOUT = 5.0


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit() -> tuple[str, bool]:
    """The commit of the gradflow checkout that is running, and whether it is dirty.

    Returns ``("", False)`` when gradflow is not imported from a git checkout (an
    installed wheel), or when git is missing.  A checkout counts only if gradflow's
    package folder sits at the top of the repository, so a gradflow installed inside
    some other repository (a virtual environment in a project) records no commit.
    """
    package = Path(__file__).resolve().parent
    top = _git(["rev-parse", "--show-toplevel"], package)
    if not top or Path(top).resolve() != package.parent:
        return "", False
    commit = _git(["rev-parse", "HEAD"], package) or ""
    changes = _git(["status", "--porcelain", "--untracked-files=no"], package)
    return commit, bool(changes)


def environment() -> dict[str, str]:
    """Versions, platform, date (UTC, ISO 8601) and git commit of this process.

    Returns
    -------
    dict of str to str
        ``gradflow_version``, ``numpy_version``, ``scipy_version``, ``python_version``,
        ``platform``, ``date``, ``git_commit`` (empty when unknown) and ``git_dirty``
        (``"true"`` when the checkout has uncommitted changes to tracked files).
    """
    import numpy
    import scipy

    from gradflow._version import __version__

    commit, dirty = git_commit()
    return {
        "gradflow_version": __version__,
        "numpy_version": numpy.__version__,
        "scipy_version": scipy.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit,
        "git_dirty": "true" if dirty else "false",
    }
