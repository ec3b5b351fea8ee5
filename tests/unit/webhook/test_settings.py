"""Settings from the environment, and the registry timeouts derived from the deadline."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.errors import InputError
from webhook.settings import Settings


def test_defaults_from_the_environment() -> None:
    settings = Settings.from_env({"GATE_POLICY": "/etc/gate/policy.yaml"})
    assert settings.policy == Path("/etc/gate/policy.yaml")
    assert settings.db_url == "sqlite:///.gate-state/gate.db"
    assert settings.admission_deadline == 8.0
    assert settings.max_body_bytes == 3 * 1024 * 1024
    assert settings.tokens_file is None


def test_every_variable() -> None:
    settings = Settings.from_env(
        {
            "GATE_POLICY": "p.yaml",
            "GATE_STATE_DIR": "/var/lib/gate",
            "GATE_TOKENS_FILE": "/etc/gate/tokens.yaml",
            "GATE_ADMISSION_DEADLINE": "4",
            "GATE_REGISTRY_TIMEOUT": "3",
            "GATE_INSECURE_REGISTRIES": "reg.local:5000, other.local",
            "GATE_CACHE_TTL": "60",
            "GATE_POLICY_RELOAD_INTERVAL": "0",
            "GATE_MAX_BODY_BYTES": "1024",
            "HTTPS_PROXY": "http://proxy:3128",
            "UNRELATED": "x",
        }
    )
    assert settings.db_url == "sqlite:////var/lib/gate/gate.db"
    assert settings.tokens_file == Path("/etc/gate/tokens.yaml")
    assert settings.insecure_registries == frozenset({"reg.local:5000", "other.local"})
    assert settings.policy_reload_interval == 0
    assert settings.registry_environ == {"HTTPS_PROXY": "http://proxy:3128"}
    options = settings.registry_options()
    assert options.timeout == 2.0  # half the deadline, below the configured 3 s
    assert options.deadline == 3.0  # three quarters of the deadline
    assert Settings.from_env({"GATE_POLICY": "p", "GATE_DB_URL": "sqlite://"}).db_url == "sqlite://"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("GATE_ADMISSION_DEADLINE", "soon", "not a number"),
        ("GATE_ADMISSION_DEADLINE", "31", "at most 30"),
        ("GATE_ADMISSION_DEADLINE", "0", "above 0"),
        ("GATE_ADMISSION_DEADLINE", "nan", "above 0"),
        ("GATE_MAX_BODY_BYTES", "-1", "positive whole number"),
        ("GATE_MAX_BODY_BYTES", "1.5", "not a whole number"),
        ("GATE_POLICY_RELOAD_INTERVAL", "-1", "reload interval"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        Settings.from_env({"GATE_POLICY": "p.yaml", variable: value})
    assert variable in str(caught.value)
    assert reason in str(caught.value)


def test_policy_is_required() -> None:
    with pytest.raises(InputError, match="GATE_POLICY"):
        Settings.from_env({})
