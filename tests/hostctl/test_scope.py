"""Game servers in a systemd scope of their own, where systemd runs the host (issue #12)."""

from __future__ import annotations

import dataclasses

import pytest

from hostctl import l4d2, scope
from hostctl.errors import HostError


@pytest.fixture
def systemd(monkeypatch):
    """Pretend systemd runs this host; the probe's answer is up to the test."""
    monkeypatch.setattr(scope, "systemd_present", lambda: True)
    answers = {}
    monkeypatch.setattr(scope, "probe", lambda user: answers.get(user))
    return answers


def test_under_systemd_a_server_starts_in_a_scope_of_its_own_through_the_user_manager(
    systemd, spec, config, monkeypatch
):
    monkeypatch.setattr(scope.os, "geteuid", lambda: 1000)
    argv = scope.prefix(spec, config) + l4d2.command_line("start", spec, config=config)
    assert argv[:5] == ["systemd-run", "--user", "--scope", "--quiet", "--collect"]
    assert argv[5].startswith(f"--unit=l4d2-server-{spec.id}-") and argv[6] == "--"
    assert argv[7].endswith("/srcds_run")  # then srcds_run's own arguments, untouched


def test_a_root_worker_uses_the_system_manager(systemd, spec, config, monkeypatch):
    monkeypatch.setattr(scope.os, "geteuid", lambda: 0)
    assert scope.prefix(spec, config)[:3] == ["systemd-run", "--scope", "--quiet"]


def test_where_the_scope_cannot_be_had_auto_falls_back_to_a_detached_session(systemd, spec, config):
    systemd[False] = systemd[True] = "Failed to connect to bus: No medium found"
    assert scope.prefix(spec, config) == []


def test_systemd_mode_refuses_to_start_without_a_scope_and_says_why(systemd, spec, config):
    systemd[False] = systemd[True] = "Failed to connect to bus: No medium found"
    required = dataclasses.replace(config, server_scope="systemd")
    with pytest.raises(HostError, match="own systemd scope: Failed to connect to bus"):
        scope.prefix(spec, required)


def test_scopes_can_be_turned_off(systemd, spec, config):
    assert scope.prefix(spec, dataclasses.replace(config, server_scope="off")) == []


def test_without_systemd_the_server_starts_detached_and_runs(spec, config, lines, monkeypatch):
    monkeypatch.setattr(scope, "SYSTEMD_RUNTIME", scope.Path("/nonexistent/systemd"))
    assert scope.prefix(spec, config) == []
    assert l4d2.install(spec, lines, config=config) == 0
    assert l4d2.start(spec, lines, config=config) == 0
    assert not any("systemd-run" in text for text in lines.of("system"))
    assert l4d2.status(spec, config=config).state == "running"
    assert l4d2.stop(spec, lines, config=config) == 0
