"""The deployment files in deploy/: the compose file, the proxy, the systemd unit, the example
settings and policy agree with each other and with what cs-mcp reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import yaml

from cs_mcp.config import Settings
from cs_mcp.guard import parse_policy

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
REPLICAS = ("cs-mcp-1", "cs-mcp-2", "cs-mcp-3")


def compose() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def example_env() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (DEPLOY / "cs-mcp.env.example").read_text().splitlines()]
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2 and not pair[0].startswith("#")}


def test_the_compose_file_runs_redis_three_replicas_and_a_proxy_in_front_of_them() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", *REPLICAS, "proxy"}
    audit_logs: set[str] = set()
    for name in REPLICAS:
        replica = services[name]
        assert replica["env_file"] == "cs-mcp.env"
        assert replica["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "./policy.toml:/etc/cs-mcp/policy.toml:ro" in replica["volumes"]
        audit_logs.add(replica["environment"]["CS_MCP_AUDIT_LOG"])
    assert len(audit_logs) == len(REPLICAS), "each replica writes its own audit file"
    assert set(services["proxy"]["depends_on"]) == set(REPLICAS)


def test_the_proxy_spreads_requests_over_every_replica_of_the_compose_file() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = set(re.findall(r"server (cs-mcp-\d):8000", conf))
    assert upstream == set(REPLICAS)
    command = (DEPLOY / "Dockerfile").read_text()
    assert '"--port", "8000"' in command


def test_the_example_settings_are_valid_settings_for_shared_state_and_oauth() -> None:
    env = example_env()
    settings = Settings.from_env(env)
    assert settings.redis_url is not None
    assert settings.oauth is not None
    assert settings.oauth.audience.endswith("/mcp")
    assert settings.allowed_hosts == ("mcp.example.com", "localhost")


def test_the_example_policy_parses_with_oauth_rules() -> None:
    policy = parse_policy((DEPLOY / "policy.example.toml").read_text(), "policy.example.toml")
    assert [rule.role for rule in policy.oauth.rules] == ["admin", "publisher", "editor"]
    assert policy.oauth.default_role == "viewer"


def test_the_systemd_unit_serves_each_instance_on_its_own_port_and_audit_file() -> None:
    unit = (DEPLOY / "cs-mcp@.service").read_text()
    assert "--transport http --host 127.0.0.1 --port 800%i" in unit
    assert "CS_MCP_AUDIT_LOG=/var/lib/cs-mcp/audit-%i.jsonl" in unit
    assert "EnvironmentFile=/etc/cs-mcp/cs-mcp.env" in unit
