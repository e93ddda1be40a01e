"""Reading the policy file (TOML) into a `Policy`, and building the guard from the settings.

An invalid policy stops the server at start: `PolicyError` names the file, the line, the
problem and the fix. tomllib gives a line only for syntax errors, so for every other problem
the line is found by scanning the file's text for the table header or key concerned.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from cs_mcp.guard.audit import AuditLog
from cs_mcp.guard.check import Guard
from cs_mcp.guard.confirm import ConfirmationAuthority
from cs_mcp.guard.destinations import parse_allowed
from cs_mcp.guard.policy import (
    BUILTIN_ROLE_SPECS,
    ConfirmSpec,
    OAuthRule,
    OAuthSpec,
    Policy,
    PrincipalSpec,
    RoleSpec,
    UploadSpec,
    WebhookSpec,
    builtin_policy,
    resolve_roles,
)
from cs_mcp.guard.scopes import ALL_SCOPES, CONSTRAINT_FIELDS, CONSTRAINT_SCOPES

if TYPE_CHECKING:
    from cs_mcp.config import Settings

RESERVED_PRINCIPALS = {"local": "stdio principal", "anonymous": "caller without a token over HTTP"}
TOP_KEYS = ("default_role", "anonymous_role", "roles", "confirm", "principals", "uploads", "webhooks", "oauth")
UPLOAD_KEYS = ("directories", "max_bytes")
WEBHOOK_KEYS = ("destinations",)
OAUTH_KEYS = ("rules", "default_role", "groups_claim", "name_claim")
OAUTH_RULE_KEYS = ("role", "subjects", "groups", "scopes")
CONSTRAINT_KEYS = CONSTRAINT_FIELDS
ROLE_KEYS = ("inherits", "scopes", *CONSTRAINT_KEYS)
CONFIRM_KEYS = ("environments", "tools", "fallback")
PRINCIPAL_KEYS = ("name", "token_sha256", "role")
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


class PolicyError(ValueError):
    """The policy file is invalid: where (file and line), what is wrong, and how to fix it."""

    def __init__(self, file: str, line: int | None, problem: str, fix: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}. Fix: {fix}")
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix


class _Lines:
    """Finds the line of a table header or key in the policy text (1-based)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _header(self, pattern: str, nth: int = 0) -> int | None:
        regex = re.compile(rf"^\s*{pattern}\s*(#.*)?$")
        seen = 0
        for number, line in enumerate(self.lines, start=1):
            if regex.match(line):
                if seen == nth:
                    return number
                seen += 1
        return None

    def _key_after(self, start: int | None, key: str) -> int | None:
        """The line of `key = ...` in the table whose header is at line `start` (None: the
        top level, before any header); the header's line when the key is not found."""
        regex = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range((start or 0) + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if line.lstrip().startswith("["):
                break
            if regex.match(line):
                return number
        return start

    def role(self, name: str, key: str | None = None) -> int | None:
        quoted = rf"[\"']?{re.escape(name)}[\"']?"
        header = self._header(rf"\[\s*roles\s*\.\s*{quoted}\s*\]")
        if header is None:
            return None
        return header if key is None else self._key_after(header, key)

    def table(self, name: str, key: str | None = None) -> int | None:
        header = self._header(rf"\[\s*{re.escape(name)}\s*\]")
        if header is None:
            return None
        return header if key is None else self._key_after(header, key)

    def oauth_rule(self, index: int, key: str | None = None) -> int | None:
        header = self._header(r"\[\[\s*oauth\s*\.\s*rules\s*\]\]", index)
        if header is None:
            return self.table("oauth")
        return header if key is None else self._key_after(header, key)

    def principal(self, index: int, key: str | None = None) -> int | None:
        header = self._header(r"\[\[\s*principals\s*\]\]", index)
        if header is None:
            return None
        return header if key is None else self._key_after(header, key)

    def top(self, key: str) -> int | None:
        line = self._key_after(None, key)
        if line is not None:
            return line
        return self._header(rf"\[+\s*{re.escape(key)}\b.*")


def _suggest(word: str, choices: list[str] | tuple[str, ...] | frozenset[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(choices))}"


def _syntax_line(exc: tomllib.TOMLDecodeError) -> int | None:
    found = re.search(r"line (\d+)", str(exc))
    return int(found.group(1)) if found else None


class _Reader:
    """Checks the parsed TOML piece by piece, raising `PolicyError` at the first problem."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.where = _Lines(text)

    def fail(self, line: int | None, problem: str, fix: str) -> PolicyError:
        return PolicyError(self.file, line, problem, fix)

    def unknown_keys(
        self, table: Mapping[str, Any], known: tuple[str, ...], label: str, line_of: Callable[[str], int | None]
    ) -> None:
        for key in table:
            if key not in known:
                raise self.fail(
                    line_of(key),
                    f"unknown key {key!r} in {label}",
                    f"remove it or use one of {', '.join(known)} ({_suggest(key, known)})",
                )

    def table(
        self,
        raw: Any,
        label: str,
        known: tuple[str, ...],
        line: int | None,
        line_of: Callable[[str], int | None],
    ) -> dict[str, Any]:
        """`raw` as the table `label` names (`[name]`, or `[[name]]` for an entry of an array of
        tables), holding only `known` keys.

        Raises:
            PolicyError: it is not a table, or it holds another key.
        """
        if not isinstance(raw, dict):
            if label.startswith("[["):
                raise self.fail(line, f"each {label} entry must be a table", f"write {label} then its keys")
            raise self.fail(line, f"{label[1:-1]} must be a table", f"write it as {label}")
        table = cast(dict[str, Any], raw)
        self.unknown_keys(table, known, label, line_of)
        return table

    def string_list(self, value: Any, label: str, line: int | None) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in cast(list[Any], value)):
            raise self.fail(line, f"{label} must be a list of strings", f'write it as {label.split(".")[-1]} = ["…"]')
        return cast(list[str], value)

    def string(self, value: Any, label: str, line: int | None) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(line, f"{label} must be a non-empty string", f'write it as {label.split(".")[-1]} = "…"')
        return value

    def role_spec(self, name: str, raw: Any) -> RoleSpec:
        line = self.where.role(name)
        table = self.table(raw, f"[roles.{name}]", ROLE_KEYS, line, lambda k: self.where.role(name, k))
        values: dict[str, list[str]] = {}
        for key, value in table.items():
            values[key] = self.string_list(value, f"roles.{name}.{key}", self.where.role(name, key))
        for scope in values.get("scopes", []):
            if scope not in ALL_SCOPES:
                raise self.fail(
                    self.where.role(name, "scopes"),
                    f"unknown scope {scope!r} in roles.{name}",
                    f"use Contentstack's scope names; {_suggest(scope, ALL_SCOPES)}",
                )
        return RoleSpec.model_validate(values)

    def confirm_spec(self, raw: Any) -> ConfirmSpec:
        line = self.where.top("confirm")
        table = self.table(raw, "[confirm]", CONFIRM_KEYS, line, lambda k: self.where.table("confirm", k))
        values: dict[str, Any] = {}
        for key in ("environments", "tools"):
            if key in table:
                values[key] = self.string_list(table[key], f"confirm.{key}", self.where.table("confirm", key))
        if "fallback" in table:
            fallback = table["fallback"]
            if fallback not in ("token", "deny"):
                raise self.fail(
                    self.where.table("confirm", "fallback"),
                    f"confirm.fallback is {fallback!r}",
                    'write fallback = "token" (answer a confirmation token) or fallback = "deny"',
                )
            values["fallback"] = fallback
        return ConfirmSpec.model_validate(values)

    def known_role(self, role: str, label: str, line: int | None, roles: Mapping[str, RoleSpec]) -> str:
        if role not in roles:
            raise self.fail(
                line,
                f"{label} names unknown role {role!r}",
                f"define [roles.{role}] or use a known role; {_suggest(role, tuple(roles))}",
            )
        return role

    def oauth_spec(self, raw: Any, roles: Mapping[str, RoleSpec]) -> OAuthSpec:
        line = self.where.top("oauth")
        table = self.table(raw, "[oauth]", OAUTH_KEYS, line, lambda k: self.where.table("oauth", k))
        values: dict[str, Any] = {}
        for key in ("default_role", "groups_claim", "name_claim"):
            if key in table:
                values[key] = self.string(table[key], f"oauth.{key}", self.where.table("oauth", key))
        if "default_role" in values:
            self.known_role(
                values["default_role"], "oauth.default_role", self.where.table("oauth", "default_role"), roles
            )
        raw_rules: Any = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise self.fail(
                self.where.table("oauth", "rules"), "oauth.rules must be an array of tables", "write [[oauth.rules]]"
            )
        values["rules"] = [self.oauth_rule(i, r, roles) for i, r in enumerate(cast(list[Any], raw_rules))]
        return OAuthSpec.model_validate(values)

    def oauth_rule(self, index: int, raw: Any, roles: Mapping[str, RoleSpec]) -> OAuthRule:
        line = self.where.oauth_rule(index)
        table = self.table(raw, "[[oauth.rules]]", OAUTH_RULE_KEYS, line, lambda k: self.where.oauth_rule(index, k))
        if "role" not in table:
            raise self.fail(line, f"[[oauth.rules]] entry {index + 1} has no role", 'add role = "…"')
        role = self.string(table["role"], "oauth.rules.role", self.where.oauth_rule(index, "role"))
        self.known_role(role, f"[[oauth.rules]] entry {index + 1}", self.where.oauth_rule(index, "role"), roles)
        matches: dict[str, list[str]] = {}
        for key in ("subjects", "groups", "scopes"):
            if key in table:
                found = self.string_list(table[key], f"oauth.rules.{key}", self.where.oauth_rule(index, key))
                if not found:
                    raise self.fail(
                        self.where.oauth_rule(index, key),
                        f"oauth.rules.{key} of entry {index + 1} is empty, so the rule could never match",
                        f"name at least one value, or remove {key}",
                    )
                matches[key] = found
        if not matches:
            raise self.fail(
                line,
                f"[[oauth.rules]] entry {index + 1} matches everyone: it names no subjects, groups or scopes",
                'add subjects, groups or scopes, or give everyone signed in a role with [oauth] default_role = "…"',
            )
        return OAuthRule(role=role, **matches)

    def listing(
        self, raw: Any, name: str, known: tuple[str, ...], key: str
    ) -> tuple[dict[str, Any], list[str], int | None]:
        """The table `[name]` (holding only `known` keys), the list of strings under `key` in it
        (empty when absent), and the line of that key.

        Raises:
            PolicyError: it is not such a table, or `key` holds something else than strings.
        """
        table = self.table(raw, f"[{name}]", known, self.where.top(name), lambda k: self.where.table(name, k))
        line = self.where.table(name, key)
        return table, self.string_list(table.get(key, []), f"{name}.{key}", line), line

    def upload_spec(self, raw: Any) -> UploadSpec:
        table, directories, line = self.listing(raw, "uploads", UPLOAD_KEYS, "directories")
        for directory in directories:
            if not Path(directory).is_absolute() or ".." in Path(directory).parts:
                raise self.fail(
                    line,
                    f"uploads.directories holds {directory!r}, which is not an absolute path without '..'",
                    'write each directory as an absolute path, e.g. directories = ["/srv/media/approved"]',
                )
        max_bytes = table.get("max_bytes", UploadSpec().max_bytes)
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise self.fail(
                self.where.table("uploads", "max_bytes"),
                f"uploads.max_bytes is {max_bytes!r}",
                "write max_bytes as a whole number of bytes above 0, e.g. max_bytes = 26214400",
            )
        return UploadSpec(directories=tuple(directories), max_bytes=max_bytes)

    def webhook_spec(self, raw: Any) -> WebhookSpec:
        _, destinations, line = self.listing(raw, "webhooks", WEBHOOK_KEYS, "destinations")
        if not destinations:
            # No list would mean no limit: a `[webhooks]` table must not read as "nowhere" and allow anywhere.
            raise self.fail(
                line or self.where.top("webhooks"),
                "[webhooks] lists no destinations, which would let webhooks send anywhere",
                'list the https URLs webhooks may send to, e.g. destinations = ["https://hooks.example.com/cs"],'
                " or remove [webhooks] to leave them unlimited",
            )
        for url in destinations:
            try:
                parse_allowed(url)
            except ValueError as exc:
                raise self.fail(
                    line,
                    f"webhooks.destinations holds {url!r}: {exc}",
                    'write each destination as an https URL with an optional path, e.g. "https://hooks.example.com/cs"',
                ) from None
        return WebhookSpec(destinations=tuple(destinations))

    def principal_spec(self, index: int, raw: Any, roles: Mapping[str, RoleSpec]) -> PrincipalSpec:
        line = self.where.principal(index)
        table = self.table(raw, "[[principals]]", PRINCIPAL_KEYS, line, lambda k: self.where.principal(index, k))
        for key in PRINCIPAL_KEYS:
            if key not in table:
                raise self.fail(line, f"[[principals]] entry {index + 1} has no {key}", f'add {key} = "…"')
        name = self.string(table["name"], "principals.name", self.where.principal(index, "name"))
        if name in RESERVED_PRINCIPALS:
            # Confirmation tokens and audit lines name principals: these names are taken.
            raise self.fail(
                self.where.principal(index, "name"),
                f"principal name {name!r} is reserved for the {RESERVED_PRINCIPALS[name]}",
                "choose another name",
            )
        digest = self.string(
            table["token_sha256"], "principals.token_sha256", self.where.principal(index, "token_sha256")
        )
        if not _SHA256_HEX.fullmatch(digest):
            raise self.fail(
                self.where.principal(index, "token_sha256"),
                f"token_sha256 of principal {name!r} is not 64 hexadecimal characters",
                "put the output of `cs-mcp hash-token` there (the hash, never the token itself)",
            )
        role = self.string(table["role"], "principals.role", self.where.principal(index, "role"))
        if role not in roles:
            raise self.fail(
                self.where.principal(index, "role"),
                f"principal {name!r} has unknown role {role!r}",
                f"define [roles.{role}] or use a known role; {_suggest(role, tuple(roles))}",
            )
        return PrincipalSpec(name=name, token_sha256=digest.lower(), role=role)

    def check_inheritance(self, specs: Mapping[str, RoleSpec], own: set[str]) -> None:
        for name in own:
            for parent in specs[name].inherits:
                if parent not in specs:
                    raise self.fail(
                        self.where.role(name, "inherits"),
                        f"role {name!r} inherits unknown role {parent!r}",
                        f"define [roles.{parent}] or inherit a known role; {_suggest(parent, tuple(specs))}",
                    )
        done: set[str] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in path:
                cycle = (*path[path.index(name) :], name)
                raise self.fail(
                    self.where.role(path[-1], "inherits"),
                    f"inheritance cycle: {' -> '.join(cycle)}",
                    "remove one of these inherits so that no role inherits itself",
                )
            for parent in specs[name].inherits:
                visit(parent, (*path, name))
            done.add(name)

        for name in sorted(specs):
            visit(name, ())

    def check_constraints(self, specs: Mapping[str, RoleSpec], own: set[str]) -> None:
        resolved = resolve_roles(dict(specs))
        for name in sorted(own):
            spec = specs[name]
            for key in CONSTRAINT_KEYS:
                if getattr(spec, key) is None:
                    continue
                users = CONSTRAINT_SCOPES[key]
                if not resolved[name].scopes & users:
                    raise self.fail(
                        self.where.role(name, key),
                        f"roles.{name}.{key} constrains nothing: the role has none of the scopes it limits",
                        f"remove {key}, or give the role one of {', '.join(sorted(users))}",
                    )


def parse_policy(text: str, file: str = "<policy>") -> Policy:
    """The policy written in `text` (TOML, the format README.md's "Permissions" shows).

    Raises:
        PolicyError: the TOML is malformed, or names an unknown key, scope or role, has an
            inheritance cycle, a constraint no scope of its role uses, or a malformed token hash.
    """
    reader = _Reader(file, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise reader.fail(_syntax_line(exc), f"TOML syntax error: {exc}", "correct the TOML at that line") from None
    reader.unknown_keys(data, TOP_KEYS, "the policy", reader.where.top)

    raw_roles: Any = data.get("roles", {})
    if not isinstance(raw_roles, dict):
        raise reader.fail(reader.where.top("roles"), "roles must be tables", "write each role as [roles.NAME]")
    specs: dict[str, RoleSpec] = dict(BUILTIN_ROLE_SPECS)
    own: set[str] = set()
    for name, raw in cast(dict[str, Any], raw_roles).items():
        specs[name] = reader.role_spec(name, raw)
        own.add(name)
    reader.check_inheritance(specs, own)
    reader.check_constraints(specs, own)

    values: dict[str, Any] = {}
    for key in ("default_role", "anonymous_role"):
        if key in data:
            role = reader.string(data[key], key, reader.where.top(key))
            if role not in specs:
                raise reader.fail(
                    reader.where.top(key),
                    f"{key} names unknown role {role!r}",
                    f"define [roles.{role}] or name a known role; {_suggest(role, tuple(specs))}",
                )
            values[key] = role
    if "confirm" in data:
        values["confirm"] = reader.confirm_spec(data["confirm"])
    if "oauth" in data:
        values["oauth"] = reader.oauth_spec(data["oauth"], specs)
    if "uploads" in data:
        values["uploads"] = reader.upload_spec(data["uploads"])
    if "webhooks" in data:
        values["webhooks"] = reader.webhook_spec(data["webhooks"])
    raw_principals: Any = data.get("principals", [])
    if not isinstance(raw_principals, list):
        raise reader.fail(
            reader.where.top("principals"), "principals must be an array of tables", "write [[principals]]"
        )
    principals = [reader.principal_spec(i, raw, specs) for i, raw in enumerate(cast(list[Any], raw_principals))]
    names = [p.name for p in principals]
    for index, principal in enumerate(principals):
        if names.index(principal.name) != index:
            raise reader.fail(
                reader.where.principal(index, "name"),
                f"two principals are named {principal.name!r}",
                "give each principal its own name (the audit log tells them apart by it)",
            )
    hashes = [p.token_sha256 for p in principals]
    for index, digest in enumerate(hashes):
        if hashes.index(digest) != index:
            raise reader.fail(
                reader.where.principal(index, "token_sha256"),
                f"principals {principals[hashes.index(digest)].name!r} and {principals[index].name!r} share one token",
                "give each principal its own token",
            )
    return Policy(roles=resolve_roles(specs), principals=principals, source=file, **values)


def load_policy(path: Path) -> Policy:
    """The policy in the file at `path`.

    Raises:
        PolicyError: the policy is invalid (file, line, problem, fix).
        OSError: the file cannot be read.
    """
    text = path.read_text(encoding="utf-8")
    return parse_policy(text, str(path))


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings, so the audit log can strip it wherever it appears
    (the stack API key is an identifier, not a secret)."""
    values = [
        settings.delivery_token,
        settings.management_token,
        settings.authtoken,
        settings.oauth_token,
        *settings.delivery_tokens.values(),
        settings.secret_key,
        settings.redis_url,
    ]
    # Once each: the delivery token is often also one of the per-environment ones, and every
    # answer is searched for each secret.
    return list(dict.fromkeys(v.get_secret_value() for v in values if v is not None))


def guard_from_settings(settings: Settings) -> Guard:
    """The guard for these settings: the policy file (or the built-in roles), the audit log at
    `settings.audit_log_path()`, and a fresh confirmation authority for this process. With
    `CS_MCP_REDIS_URL`, the audit log also feeds the shared stream and confirmation tokens are
    keyed with `CS_MCP_SECRET_KEY` and spent in the shared ledger, so any replica accepts them once.

    Raises:
        PolicyError: the policy file is invalid.
        OSError: the policy file cannot be read.
    """
    policy = load_policy(settings.policy_path) if settings.policy_path else builtin_policy()
    key = hashlib.sha256(settings.secret_key.get_secret_value().encode()).digest() if settings.secret_key else None
    stream, ledger = None, None
    if settings.redis_url:
        # Imported here: only a deployment with Redis loads its client.
        from cs_mcp.shared_state import RedisAuditStream, RedisLedger, connect, connect_sync

        url = settings.redis_url.get_secret_value()
        stream, ledger = RedisAuditStream(connect_sync(url)), RedisLedger(connect(url))
    audit = AuditLog(
        settings.audit_log_path(),
        settings_secrets(settings),
        max_bytes=settings.audit_max_bytes,
        keep=settings.audit_keep,
        stream=stream,
    )
    return Guard(policy, audit=audit, confirmations=ConfirmationAuthority(key, ledger=ledger))
