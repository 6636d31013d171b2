"""Where the shipped folders are: ``static/``, ``hooks/`` and ``docs/``.

In a source checkout they sit beside the package; installed, they ship inside
it as ``posplugin.static``, ``posplugin.hooks`` and ``posplugin.docs`` (see setup.cfg).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _folder(name: str) -> Path:
    beside = _CHECKOUT / name
    if (beside / "__init__.py").exists() and (_CHECKOUT / "setup.cfg").exists():
        return beside
    return Path(str(importlib.resources.files(f"posplugin.{name}")))


def static_dir() -> Path:
    """The folder of pages, scripts and styles."""
    return _folder("static")


def hooks_dir() -> Path:
    """The folder of bundled hook plugins."""
    return _folder("hooks")


def docs_dir() -> Path:
    """The folder of the documentation (Markdown), served under /docs/."""
    return _folder("docs")
