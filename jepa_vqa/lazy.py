"""Lazy package exports: ``from pkg import Name`` imports the module that defines ``Name`` only when
the name is first asked for, so ``import pkg`` stays cheap (the CLI starts without torch).

    # pkg/__init__.py
    from jepa_vqa.lazy import lazy_exports

    __getattr__, __all__ = lazy_exports("pkg", {"Model": "pkg.model", "load": "pkg.api"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """A module ``__getattr__`` for ``package`` serving ``exports`` (name -> defining module), and
    the matching ``__all__``."""

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(exports)
