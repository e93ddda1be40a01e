"""What several commands share: reading settings and building the guard, with plain errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cs_mcp.config import ConfigError, Settings
from cs_mcp.guard import Guard, guard_from_settings


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, help="policy file (TOML); default: $CS_MCP_POLICY")
    parser.add_argument("--role", help="role of the local (stdio) principal; default: $CS_MCP_ROLE or the policy's")


def load_settings(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with --policy and --role applied.

    Raises:
        CommandError: a configuration problem, naming the variable.
    """
    try:
        settings = Settings.from_env(os.environ if env is None else env)
    except ConfigError as exc:
        raise CommandError(f"configuration error: {exc}") from None
    update: dict[str, object] = {}
    if getattr(args, "policy", None):
        update["policy_path"] = args.policy
    if getattr(args, "role", None):
        update["role"] = args.role
    return settings.model_copy(update=update) if update else settings


def build_guard(settings: Settings) -> Guard:
    """The guard for these settings (policy file, audit log).

    Raises:
        CommandError: the policy is invalid or names an unknown role.
    """
    try:
        guard = guard_from_settings(settings)
    except (ValueError, OSError) as exc:
        raise CommandError(f"policy error: {exc}") from None
    role = settings.role or guard.policy.default_role
    if role not in guard.policy.roles:
        roles = ", ".join(sorted(guard.policy.roles))
        raise CommandError(f"unknown role {role!r} (from --role or CS_MCP_ROLE); roles are: {roles}")
    return guard


def fail(message: str) -> int:
    print(f"cs-mcp: {message}", file=sys.stderr)
    return 2
