"""Loading plugins and calling their hooks so that a failing plugin is logged
and skipped instead of failing the request that called it."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import sys
import threading
from pathlib import Path

import pluggy

from . import hookspecs
from .resources import hooks_dir

log = logging.getLogger("posplugin.plugins")


@functools.lru_cache(maxsize=4)
def installed(path: tuple[str, ...]) -> tuple[importlib.metadata.EntryPoint, ...]:
    """The ``posplugin`` entry points of the packages importable from ``path``
    (``sys.path``). Finding them reads every installed package's metadata
    (about 10 ms), and one service opens its plugins more than once (the
    store; head office's code senders and platforms), so once per ``path``."""
    return tuple(importlib.metadata.entry_points(group="posplugin"))


class Plugins:
    """The plugins of one store: bundled ones named in settings, ``.py`` files
    in ``hooks_dir``, and installed packages with a ``posplugin`` entry point."""

    def __init__(self, settings, *, entry_points: bool = True):
        self.settings = settings
        self.pm = pluggy.PluginManager("posplugin")
        self.pm.add_hookspecs(hookspecs)
        self.errors: list[str] = []
        self._implemented: set[str] | None = None
        if entry_points:
            try:
                for entry in installed(tuple(sys.path)):
                    if not (self.pm.get_plugin(entry.name) or self.pm.is_blocked(entry.name)):
                        self.pm.register(entry.load(), name=entry.name)
            except Exception as exc:  # a broken installed plugin must not stop the store
                self._failed("entry points", exc)
        for name in filter(None, (n.strip() for n in settings.plugins.split(","))):
            if not name.isidentifier():
                # Only hooks/NAME.py; never a file in a subfolder such as the Odoo module's.
                self._failed(name, ValueError("not a bundled plugin name; see `posplugin plugins`"))
                continue
            self._load_file(hooks_dir() / f"{name}.py", f"posplugin_bundled_{name}")
        if settings.hooks_dir:
            for path in sorted(Path(settings.hooks_dir).glob("*.py")):
                self._load_file(path, f"posplugin_hook_{path.stem}")

    def _load_file(self, path: Path, module_name: str) -> None:
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.pm.register(module, name=path.stem)
        except Exception as exc:
            self._failed(str(path), exc)

    def _failed(self, what: str, exc: Exception) -> None:
        message = f"plugin {what} could not be loaded: {exc.__class__.__name__}: {exc}"
        log.error(message)
        self.errors.append(message)

    def names(self) -> list[tuple[str, list[str]]]:
        """Each loaded plugin with the hooks it implements."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda item: item[0]):
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append((name, hooks))
        return out

    def _answers(self, hook: str, kwargs: dict, *, newest_first: bool):
        """Each plugin's answer to ``hook``; a plugin that raises is logged and skipped."""
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        for impl in reversed(impls) if newest_first else impls:
            try:
                yield impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception:
                log.exception("plugin %s failed in %s; skipped", impl.plugin_name, hook)

    def first(self, hook: str, **kwargs):
        """The first non-None answer of ``hook`` (pluggy's order), skipping plugins that fail."""
        return next((r for r in self._answers(hook, kwargs, newest_first=True) if r is not None), None)

    def each(self, hook: str, **kwargs) -> list:
        """Every plugin's non-None answer to ``hook``, skipping plugins that fail."""
        return [r for r in self._answers(hook, kwargs, newest_first=False) if r is not None]

    def has(self, hook: str) -> bool:
        """Whether any plugin implements ``hook`` (asked on every identify, so
        answered from a set made once: plugins are loaded only at start)."""
        if self._implemented is None:
            self._implemented = {name for name in dir(hookspecs) if not name.startswith("_")
                                 and getattr(self.pm.hook, name, None) is not None
                                 and getattr(self.pm.hook, name).get_hookimpls()}
        return hook in self._implemented

    def notify_from(self, bus) -> threading.Thread | None:
        """Call ``prompt_changed`` for every prompt event on ``bus``, from a
        thread of its own so a slow notifier never delays a request."""
        if not self.has("prompt_changed"):
            return None
        subscription = bus.subscribe()

        def run():
            while True:
                event = subscription.get(timeout=60)
                if event is not None and event.kind == "prompt":
                    self.each("prompt_changed", prompt=event.data, settings=self.settings)

        thread = threading.Thread(target=run, name="posplugin-notify", daemon=True)
        thread.start()
        return thread


