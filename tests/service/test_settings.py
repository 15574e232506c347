import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_environment_variables_configure_the_server(monkeypatch):
    monkeypatch.setenv("RECSERVE_BUNDLE", "bundles/led")
    monkeypatch.setenv("RECSERVE_STORE", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("RECSERVE_GRPC_PORT", "6000")
    settings = Settings()
    assert (settings.bundle, settings.store, settings.grpc_port) == (
        "bundles/led",
        "redis://127.0.0.1:6379/3",
        6000,
    )
    assert Settings(grpc_port=7000).grpc_port == 7000  # explicit beats environment


def test_bad_settings_are_refused_at_start_up():
    with pytest.raises(ValidationError, match="store must start with"):
        Settings(bundle="b", store="postgres://x")
    with pytest.raises(ValidationError):
        Settings(bundle="b", max_k=0)
    with pytest.raises(ValidationError):
        Settings(bundle="b", unknown_field=1)
    assert Settings(bundle="b", store="memory").store == "memory://"
