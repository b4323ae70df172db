"""Optional dependencies: imported where they are used, with a message naming the extra."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["require"]


def require(module: str, extra: str, what: str) -> Any:
    """Import ``module`` (dotted names give the submodule), or raise an ``ImportError``
    saying that ``what`` needs it and which extra of ``gradflow-ode`` installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        name = module.split(".")[0]
        raise ImportError(f'{what} needs {name}: pip install "gradflow-ode[{extra}]"') from None
