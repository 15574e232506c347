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
from bundle.format import MANIFEST
from bundle.loader import VERSION, Bundle, resolve_bundle
from service.metrics import Metrics

log = logging.getLogger("recserve.bundles")


class BundleManager:
    def __init__(
        self, source: str | Path, metrics: Metrics, providers: list[str], threads: int = 1
    ) -> None:
        self.source = Path(source)
        # the model's folder (bundles/<name>): the admin API reaches its versions only
        self.root = self.source.parent if (self.source / MANIFEST).exists() else self.source
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
                self.last_error = self.public(str(error))
                self.metrics.bundle_loads.labels("refused").inc()
                log.error("bundle refused, still serving %s: %s", self.version, error)
                raise
            self.current = bundle  # the atomic swap
            self.last_error = None
            self.metrics.bundle_loads.labels("loaded").inc()
            self.metrics.bundle_items.set(bundle.manifest.item_count)
            self.metrics.bundle_info.info({"version": bundle.version, "folder": bundle.path.name})
            self.metrics.encoder_info.info({"provider": bundle.encoder.provider})
            log.info("serving bundle %s (%d items)", bundle.version, bundle.manifest.item_count)
            return bundle

    def load_version(self, version: str | None = None) -> Bundle:
        """The admin API's reload: a version folder *name* under the model's folder
        (default: the newest), never a path; refusals name no server path."""
        if version is None:
            return self.load(self.root)
        if not VERSION.fullmatch(version):
            raise BundleError(f"version {version[:40]!r} is not a version name (e.g. 7, 1.2)")
        target = self.root / version
        if not (target / MANIFEST).is_file():
            raise BundleError(f"no complete version {version!r} under {self.root.name}/")
        return self.load(target)

    def public(self, message: str) -> str:
        """``message`` as clients may see it: the bundle root's server path becomes the
        model folder's name (``led/2/items.npy: ...``)."""
        for prefix in {str(self.root.resolve()), str(self.root.absolute()), str(self.root)}:
            message = message.replace(prefix, self.root.name)
        return message

    def _run_prepare(self, bundle: Bundle) -> None:
        for prepare in self._prepare:
            try:
                prepare(bundle)
            except BundleError:
                raise
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
        refused: dict[Path, tuple] = {}  # version -> its files when it was refused
        while not self._stop.wait(interval):
            try:
                newest = resolve_bundle(self.source)
            except BundleError:
                continue
            serving = self.current.path if self.current else None
            if newest.resolve() == (serving.resolve() if serving else None):
                continue
            files = _files_state(newest)
            if refused.get(newest) == files:
                continue  # refused as it is now; tried again once its files change
            try:
                self.load(newest)
            except BundleError:
                refused[newest] = files

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=2)


def _files_state(folder: Path) -> tuple:
    """(name, size, mtime) of every file of a version: changes when it is rewritten."""
    try:
        return tuple(
            sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
        )
    except OSError:
        return ()
