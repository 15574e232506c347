"""BundleManager: hooks prepare a bundle before it serves; a failing hook refuses it."""

from __future__ import annotations

import pytest

from bundle.errors import BundleError
from service.bundle_manager import BundleManager
from service.metrics import Metrics


def test_hooks_see_the_serving_bundle_and_every_new_one_before_the_swap(led_bundle):
    manager = BundleManager(led_bundle, Metrics(), ["CPUExecutionProvider"])
    first = manager.load()
    seen = []
    manager.on_load(lambda bundle: seen.append((bundle, manager.current)))
    second = manager.load()
    assert seen[0] == (first, first)  # the serving one, at registration
    assert seen[1] == (second, first)  # the new one, while the old one still serves
    assert manager.current is second


def test_a_failing_hook_refuses_the_bundle_and_the_old_one_keeps_serving(led_bundle):
    metrics = Metrics()
    manager = BundleManager(led_bundle, metrics, ["CPUExecutionProvider"])
    serving = manager.load()

    def fails_after_the_first(bundle, calls=[]):  # noqa: B006
        calls.append(bundle)
        if len(calls) > 1:
            raise ValueError("no room")

    manager.on_load(fails_after_the_first)  # runs on the serving bundle, fine
    with pytest.raises(BundleError, match="cannot be prepared for serving \\(no room\\)"):
        manager.load()
    assert manager.current is serving and "no room" in manager.last_error
    refused = {"outcome": "refused"}
    assert metrics.registry.get_sample_value("recserve_bundle_loads_total", refused) == 1
