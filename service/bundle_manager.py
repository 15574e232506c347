"""Hot reload: load a new bundle beside the serving one, then swap atomically.

Requests read ``manager.current`` once and keep that reference, so a swap
never changes a bundle under a request in flight; the old one is freed when
the last request holding it finishes. A bundle that fails to load (checksum,
missing file, bad encoder) is refused and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from bundle.errors import BundleError
from bundle.loader import Bundle, resolve_bundle
from service.metrics import Metrics

log = logging.getLogger("recserve.bundles")


class BundleManager:
    def __init__(
        self, source: str | Path, metrics: Metrics, providers: list[str], threads: int = 1
    ) -> None:
        self.source = Path(source)
        self.metrics = metrics
        self.providers = providers
        self.threads = threads
        self.current: Bundle | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._prepare: list[Callable[[Bundle], None]] = []

    def on_load(self, prepare: Callable[[Bundle], None]) -> None:
        """Run ``prepare(bundle)`` on every new bundle before it is swapped in (and on
        the serving one now), so per-bundle caches are warm when it starts serving."""
        self._prepare.append(prepare)
        if self.current is not None:
            prepare(self.current)

    def load(self, path: str | Path | None = None) -> Bundle:
        """Load ``path`` (default: the newest version under the source) and swap it in."""
        with self._lock:  # one load at a time; serving continues meanwhile
            target = resolve_bundle(path or self.source)
            try:
                bundle = Bundle.load(target, self.providers, self.threads)
                self._run_prepare(bundle)
            except BundleError as error:
                self.last_error = str(error)
                self.metrics.bundle_loads.labels("refused").inc()
                log.error("bundle refused, still serving %s: %s", self.version, error)
                raise
            self.current = bundle  # the atomic swap
            self.last_error = None
            self.metrics.bundle_loads.labels("loaded").inc()
            self.metrics.bundle_items.set(bundle.manifest.item_count)
            self.metrics.bundle_info.info({"version": bundle.version, "path": str(bundle.path)})
            self.metrics.encoder_info.info({"provider": bundle.encoder.provider})
            log.info("serving bundle %s (%d items)", bundle.version, bundle.manifest.item_count)
            return bundle

    def _run_prepare(self, bundle: Bundle) -> None:
        for prepare in self._prepare:
            try:
                prepare(bundle)
            except Exception as error:  # a hook's failure refuses the bundle, never the server
                message = f"{bundle.path}: cannot be prepared for serving ({error})"
                raise BundleError(message) from error

    @property
    def version(self) -> str:
        return self.current.version if self.current else "none"

    def watch(self, interval: float) -> None:
        """Poll the source folder and load a newer complete version when one appears."""
        self._watcher = threading.Thread(
            target=self._watch, args=(interval,), name="bundle-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self, interval: float) -> None:
        refused: set[Path] = set()
        while not self._stop.wait(interval):
            try:
                newest = resolve_bundle(self.source)
            except BundleError:
                continue
            serving = self.current.path if self.current else None
            if (
                newest.resolve() != (serving.resolve() if serving else None)
                and newest not in refused
            ):
                try:
                    self.load(newest)
                except BundleError:
                    refused.add(newest)  # do not retry a broken version every tick

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)
