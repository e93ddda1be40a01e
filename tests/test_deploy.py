"""The deployment files in deploy/: the compose file, the proxy, the systemd unit, the example
settings and policy agree with each other and with what cs-mcp reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
import yaml

from bench._common import free_port, wait_answering
from bench._team import deployment, mcp_client, member_token, redis_available
from cs_mcp.config import Settings
from cs_mcp.guard import parse_policy
from cs_mcp.guard.audit import read_audit

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
        assert Settings.from_env(replica["environment"]).replica_name == name, "a restart counts once"
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
    assert "Environment=CS_MCP_REPLICA_NAME=%i\n" in unit
    assert "EnvironmentFile=/etc/cs-mcp/cs-mcp.env" in unit


def compose_command() -> list[str] | None:
    """The Compose implementation on this machine: the docker plugin, else the standalone one."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    found = shutil.which("docker-compose")
    return [found] if found else None


def test_docker_compose_accepts_the_compose_file_and_gives_each_replica_the_example_settings(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose (.ci/deploy-tools.sh installs the distribution's docker-compose)")
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    shutil.copy(deploy / "cs-mcp.env.example", deploy / "cs-mcp.env")
    shutil.copy(deploy / "policy.example.toml", deploy / "policy.toml")
    resolved = subprocess.run(
        [*command, "-f", str(deploy / "compose.yaml"), "config"], capture_output=True, text=True, check=False
    )
    assert resolved.returncode == 0, resolved.stderr
    services = cast(dict[str, Any], yaml.safe_load(resolved.stdout))["services"]
    env = example_env()
    for n, name in enumerate(REPLICAS, start=1):
        replica = services[name]
        # The env_file's settings reach every replica; the replica's own audit file wins over it.
        assert replica["environment"]["CS_MCP_REDIS_URL"] == env["CS_MCP_REDIS_URL"]
        assert replica["environment"]["CS_MCP_OAUTH_AUDIENCE"] == env["CS_MCP_OAUTH_AUDIENCE"]
        assert replica["environment"]["CS_MCP_AUDIT_LOG"] == f"/var/lib/cs-mcp/audit/audit-{n}.jsonl"
        assert replica["build"]["dockerfile"] == "deploy/Dockerfile"


def nginx_site(replica_ports: list[int], listen_port: int) -> str:
    """deploy/nginx.conf with the compose service names replaced by the loopback replicas."""
    site = (DEPLOY / "nginx.conf").read_text()
    for n, port in enumerate(replica_ports, start=1):
        assert f"server cs-mcp-{n}:8000 " in site
        site = site.replace(f"server cs-mcp-{n}:8000 ", f"server 127.0.0.1:{port} ")
    assert "listen 80;" in site
    return site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")


@asynccontextmanager
async def nginx(workdir: Path, site: str) -> AsyncGenerator[Path]:
    """nginx in the foreground with `site` as its only server; yields its access log, which
    names the upstream that answered each request."""
    site_path = workdir / "site.conf"
    site_path.write_text(site)
    access_log = workdir / "access.log"
    # As root, nginx's workers would run as nobody, who cannot write into the test's folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "events {}\nhttp {\n"
        "  log_format upstream '$request_method $uri $status $upstream_addr';\n"
        f"  access_log {access_log} upstream;\n"
        + "".join(
            f"  {kind}_temp_path {workdir}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {site_path};\n}}\n"
    )
    command = ["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")]
    with (workdir / "nginx.out").open("wb") as out:
        process = await anyio.open_process(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        try:
            yield access_log
        finally:
            process.terminate()
            with anyio.fail_after(20):
                await process.wait()


@pytest.mark.anyio
@pytest.mark.subprocess
async def test_nginx_with_the_deploy_config_spreads_one_session_over_every_replica(tmp_path: Path) -> None:
    if shutil.which("nginx") is None or not redis_available():
        pytest.skip("needs nginx and redis-server (.ci/deploy-tools.sh and .ci/redis.sh install them)")
    # Behind the proxy, Host is the name clients used, without its port: CS_MCP_ALLOWED_HOSTS.
    async with deployment(tmp_path, CS_MCP_ALLOWED_HOSTS="127.0.0.1") as team:
        replica_ports = [int(url.split(":")[2].split("/")[0]) for url in team.replica_urls]
        listen_port = free_port()
        async with nginx(tmp_path, nginx_site(replica_ports, listen_port)) as access_log:
            proxy = f"http://127.0.0.1:{listen_port}"
            await wait_answering(f"{proxy}/healthz")
            async with mcp_client(f"{proxy}/mcp", member_token(1)) as client:
                listed = await client.list_tools()
                assert "create_entry" in {tool.name for tool in listed.tools}
                uids: list[str] = []
                for k in range(6):
                    created = await client.call_tool(
                        "create_entry",
                        {"content_type": "author", "fields": {"title": f"via proxy {k}"}, "locale": "en-us"},
                    )
                    assert not created.is_error
                    uids.append(cast(dict[str, Any], created.structured_content)["entry"]["uid"])
                for uid in uids:
                    read = await client.call_tool("get_entry", {"content_type": "author", "uid": uid})
                    assert not read.is_error
    posts = [line.split() for line in access_log.read_text().splitlines() if line.startswith("POST /mcp ")]
    assert {status for _, _, status, _ in posts} <= {"200", "202"}
    assert {addr for *_, addr in posts} == {f"127.0.0.1:{port}" for port in replica_ports}
    written = [len(read_audit(path)) for path in team.audit_logs]
    assert sum(written) == 6
    assert all(count > 0 for count in written), written
