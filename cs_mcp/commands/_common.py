"""What several commands share: reading settings and building the guard, with plain errors."""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import TypeAlias

from cs_mcp.config import ConfigError, Settings, default_data_dir, default_state_dir
from cs_mcp.guard import ConfirmationAuthority, ConfirmationError, Guard, guard_from_settings


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """`--help` shows each option's default, unless the help already says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


# What `add_subparsers` returns, which each command's `add_parser` is given; argparse gives
# its type no public name.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # pyright: ignore[reportPrivateUsage]


def command_parser(subcommands: Subcommands, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """The parser of the command `name`, its `--help` showing each option's default."""
    return subcommands.add_parser(name, help=help, description=description, formatter_class=DefaultsHelpFormatter)


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", type=Path, help="policy file (TOML); default: $CS_MCP_POLICY, else built-in roles")
    parser.add_argument(
        "--role", help="role of the local principal; default: $CS_MCP_ROLE, else the policy's default_role (viewer)"
    )


def add_toolsets_argument(parser: argparse.ArgumentParser) -> None:
    """--toolsets, shared by `serve` and `tools`."""
    from cs_mcp.toolkit.toolsets import known_choices

    parser.add_argument(
        "--toolsets",
        metavar="NAMES",
        help="comma-separated toolsets to serve; `all` for every one, `dynamic` to start with the discovery "
        f"tools only; default: $CS_MCP_TOOLSETS, else the default ones (known: {known_choices()})",
    )


def default_sandbox_db() -> Path:
    """Where `serve`, `call` and `sandbox` keep the sandbox's state unless told otherwise."""
    return default_data_dir() / "sandbox.sqlite3"


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """--sandbox, --sandbox-db and --fresh, shared by `serve` and `call` so both reach the same state."""
    parser.add_argument(
        "--sandbox", action="store_true", help="use the local sandbox stack even if credentials are set"
    )
    parser.add_argument(
        "--sandbox-db",
        metavar="FILE",
        default=None,
        help=f"the sandbox's SQLite file, shared by serve and call (default: {default_sandbox_db()}; "
        "delete it to start over)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="a throwaway in-memory sandbox, forgotten at exit (--sandbox-db :memory:)"
    )


def sandbox_db(args: argparse.Namespace) -> str:
    """The sandbox database the arguments choose; creates the default file's directory."""
    if getattr(args, "fresh", False):
        return ":memory:"
    chosen: str | None = getattr(args, "sandbox_db", None)
    if chosen:
        return chosen
    path = default_sandbox_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


# What `cs-mcp config` prints in place of a value: left in the environment, it is no credential.
def placeholder_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The cs-mcp and Contentstack variables whose value is still a `<...>` placeholder."""
    return {
        name: value
        for name, value in env.items()
        if name.startswith(("CONTENTSTACK_", "CS_MCP_")) and _is_placeholder(value)
    }


def _is_placeholder(value: str) -> bool:
    value = value.strip()
    return value.startswith("<") and value.endswith(">")


def placeholder_problem(found: Mapping[str, str]) -> str:
    names = ", ".join(f"{name}={value}" for name, value in sorted(found.items()))
    return (
        f"{names}: still the placeholder from the configuration snippet; put the real value there, "
        "or remove the variable (with no credentials cs-mcp serves its local sandbox)"
    )


def load_settings(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, *, allow_placeholders: bool = False
) -> Settings:
    """Settings from the environment, with --policy and --role applied.

    With `allow_placeholders`, variables still holding a `<...>` placeholder are read as unset
    (doctor reports them itself).

    Raises:
        CommandError: a configuration problem, naming the variable; a placeholder left in a
            variable; an unknown toolset in --toolsets or CS_MCP_TOOLSETS.
    """
    env = os.environ if env is None else env
    placeholders = placeholder_variables(env)
    if placeholders and not allow_placeholders:
        raise CommandError(f"configuration error: {placeholder_problem(placeholders)}")
    try:
        settings = Settings.from_env({k: v for k, v in env.items() if k not in placeholders})
    except ConfigError as exc:
        raise CommandError(f"configuration error: {exc}") from None
    update: dict[str, object] = {}
    if getattr(args, "policy", None):
        update["policy_path"] = args.policy
    if getattr(args, "role", None):
        update["role"] = args.role
    if getattr(args, "toolsets", None):
        update["toolsets"] = args.toolsets
    settings = settings.model_copy(update=update) if update else settings
    from cs_mcp.toolkit.toolsets import UnknownToolsetError, select_toolsets

    try:
        select_toolsets(settings.toolsets)
    except UnknownToolsetError as exc:
        where = "--toolsets" if getattr(args, "toolsets", None) else "CS_MCP_TOOLSETS"
        raise CommandError(f"configuration error: {where}: {exc}") from None
    return settings


def build_guard(settings: Settings, *, confirmations: ConfirmationAuthority | None = None) -> Guard:
    """The guard for these settings (policy file, audit log); `confirmations` replaces the
    per-process confirmation authority, unless replicas share one through Redis
    (`CS_MCP_REDIS_URL`), which then spans this machine's processes too.

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
    if confirmations is not None and settings.redis_url is None:
        guard.confirmations = confirmations
    return guard


class SharedConfirmations(ConfirmationAuthority):
    """Confirmation tokens that `serve` and `call` on this machine share, so a token one `call`
    printed confirms the next `call`.

    The HMAC key is a file in the state directory (created 0600, readable by this user only);
    every token spent is remembered there too, under a lock, so a token confirms one call
    across processes as it does within one.
    """

    KEY_FILE = "confirmation.key"
    SPENT_FILE = "confirmations-spent"

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = state_dir or default_state_dir()
        self.shared = True
        try:
            key = self._load_key()
        except OSError as exc:
            # A read-only home must not stop the server: tokens then confirm within this process only.
            print(
                f"cs-mcp: cannot keep the confirmation key in {self.state_dir} ({exc.strerror}); confirmation "
                "tokens will work only within this process",
                file=sys.stderr,
            )
            self.shared = False
            key = None
        super().__init__(key)

    def _load_key(self) -> bytes:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / self.KEY_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if path.stat().st_mode & 0o077:
                raise CommandError(
                    f"{path} is readable by other users; make it private (chmod 600 {path}) or delete it"
                ) from None
            key = base64.b64decode(path.read_text().strip())
            if len(key) < 32:
                raise CommandError(f"{path} is not a cs-mcp confirmation key; delete it and try again") from None
            return key
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(key).decode() + "\n")
        return key

    @contextlib.contextmanager
    def _spent(self) -> Generator[dict[str, float]]:
        """The spent tokens' nonces (with their expiry), locked for this process while open."""
        path = self.state_dir / self.SPENT_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+") as f:
            _lock(f.fileno())
            now = time.time()
            spent: dict[str, float] = {}
            for line in f.read().splitlines():
                digest, _, expiry = line.partition(" ")
                with contextlib.suppress(ValueError):
                    if float(expiry) > now:
                        spent[digest] = float(expiry)
            yield spent
            f.seek(0)
            f.truncate()
            f.write("".join(f"{d} {e}\n" for d, e in spent.items()))

    def _spend(self, nonce: str, expires: float) -> None:
        """As the in-memory spend, with the spent tokens shared between processes.

        Raises:
            ConfirmationError: reason "replayed" (spent here or by another process) or "expired".
        """
        if not self.shared:
            super()._spend(nonce, expires)
            return
        with self._spent() as spent:
            if nonce in spent:
                raise ConfirmationError("replayed", "the confirmation token was already used; each confirms one call")
            super()._spend(nonce, expires)
            spent[nonce] = expires


def _lock(fd: int) -> None:
    if sys.platform != "win32":
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)


def fail(message: str) -> int:
    print(f"cs-mcp: {message}", file=sys.stderr)
    return 2
