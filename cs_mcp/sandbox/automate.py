"""The sandbox's Automate Management API (mounted at `/automate/v1`).

Read from Contentstack's Automate Management API reference and its Postman collection, on its
own: projects and automations are identified by `id` (not `uid`), automations are listed under
`rules`, execution logs under `executions`, audit logs under `logs` (each identified by `uid`).

Rules it keeps:
- Auth: the `authtoken` header (or `authorization: Bearer <authtoken>`) and the
  `organization_uid` header; anything else, a management token included, is 401 error 105.
- `PATCH /projects/{p}/automations/{a}` `{"active": bool}` needs a trigger and an action
  configured (the reference's note); without them it answers 422 and changes nothing. Every
  change of state writes an audit-log entry (`Enabled` / `Disabled`) holding the automation.
- Lists take `limit` (0 to 100; more is refused with 400), `skip`, `asc` / `desc` on the
  documented sort fields, `include_count` (the total under `count`), and `query`, a JSON
  object of field values that must match (the reference documents `{"active": "true"}` for
  automations, with single quotes; both quote styles are accepted).

- Projects are created (`POST /projects`, body `{"title", "description", "tags"}`, answered 201
  with the project), updated (`PUT`, the given keys merged) and deleted (`DELETE`, with
  everything inside them), each writing a `Project` audit entry.
- Project variables (`/projects/{p}/variables[/{id}]`) have a `key`, a `type` (`text` or
  `password`) and a `value`; a `password` value is stored and answered only in an encrypted
  form (`ENC_...`), as the reference's samples show. Variable changes write no audit entry.
- Connected accounts (`/projects/{p}/accounts[/{id}]`) are read only, answered as the
  reference's samples show them: without the credentials the account holds. Their creation
  audit entries (`Connected Apps`) do hold the credentials in `metadata`, as the reference's
  audit-log sample does.

Choices where the reference is silent (OPEN, written down here):
- Execution logs filter through the same `query` object, on their own field names:
  `{"rule_id": "<automation id>", "status": "failed"}`.
- Execution logs and audit logs list newest first unless `asc` / `desc` says otherwise;
  projects and automations list in creation order.
- Error bodies follow Contentstack's documented shape `{"error_message", "error_code",
  "errors"}`: 404 error 141 for an unknown id, 400 error 400 for a malformed parameter, 422
  error 119 for an automation that cannot be switched on or off.
- A PATCH to the state an automation already has succeeds and writes no audit entry.
- A project needs a non-empty string `title`, and `tags` must be a list of strings (400
  otherwise). A variable needs a non-empty string `key`, a string `value` and a `type` of
  `text` or `password` (400 otherwise); a key used by another variable of the project answers
  422 error 119.

The seed is deterministic from `config.seed` and the sandbox clock: two projects, automations
in both states (one without an action, one without a trigger), 30 days of execution history
with successes and failures, and the audit entries of their creation and activation.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import strict_json
from cs_mcp.sandbox.endpoint import RequestRefused, bad_request, invalid, json_value, not_found, routes_behind
from cs_mcp.sandbox.state import SandboxState, create_tables, error_response

AUTH_CODE = 105
BAD_PARAMETER_CODE = 400
CANNOT_TOGGLE_CODE = 119
MAX_LIMIT = 100

# Which fields each list may be sorted by, per the reference.
_SORTABLE: dict[str, frozenset[str]] = {
    "projects": frozenset({"created_at", "title", "updated_at"}),
    "automations": frozenset({"created_at", "title", "updated_at"}),
    "executions": frozenset({"created_at", "title", "updated_at"}),
    "audit_logs": frozenset({"created_at"}),
    "variables": frozenset({"created_at", "updated_at"}),
    "accounts": frozenset({"created_at", "title", "updated_at"}),
}
VARIABLE_TYPES = ("text", "password")
SECRET_TYPE = "password"  # noqa: S105 - the name of a type, not a password
# The credentials a connected account holds (the audit-log sample shows them in `metadata`);
# the account answers of the reference leave them out.
ACCOUNT_SECRETS = ("auth", "client_id", "client_secret", "access_url", "done", "access_token", "refresh_token")
TOKEN_URL = "https://developerhub-api.contentstack.com/apps/token"  # noqa: S105 - an address, not a secret
# The lists inside a project, each a table of one shape: its key, the project, the column it
# is ordered by, the stored document. Children first: the foreign keys are enforced.
_PROJECT_LISTS = (
    ("automate_audit_logs", "uid", "created_at TEXT"),
    ("automate_executions", "id", "created_at TEXT"),
    ("automate_automations", "id", "position INTEGER"),
    ("automate_variables", "id", "position INTEGER"),
    ("automate_accounts", "id", "position INTEGER"),
)
PROJECT_TABLES = tuple(table for table, _key, _order in _PROJECT_LISTS)

_TABLES = """
CREATE TABLE IF NOT EXISTS automate_projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    data_json TEXT NOT NULL
);
""" + "".join(
    f"""CREATE TABLE IF NOT EXISTS {table} (
    {key} TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES automate_projects(id),
    {order} NOT NULL,
    data_json TEXT NOT NULL
);
"""
    for table, key, order in _PROJECT_LISTS
)

Doc = dict[str, Any]
Shape = Callable[[Doc], Doc]  # what an answer makes of a stored object
# The field a 404 names, by the path parameter that was not found (the reference's parameter names).
_ERROR_FIELDS = {
    "execution_id": "execution_uid",
    "log_id": "auditlog_uid",
    "variable_id": "variable_uid",
    "account_id": "account_uid",
}


def iso(moment: datetime) -> str:
    """A timestamp as Automate writes it: UTC, milliseconds, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _loads(text: str) -> Doc:
    return cast(Doc, json.loads(text))


# -- the seed ---------------------------------------------------------------------------


class _Ids:
    """Deterministic ids in Automate's shapes: 32 hex digits, and `csls…` uuids for audit logs."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def hex32(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def audit_uid(self) -> str:
        h = self.hex32()
        return f"csls{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


# (title, description, trigger (connector, event) or None, actions as (connector, action), active)
_AutomationSeed = tuple[str, str, tuple[str, str] | None, list[tuple[str, str]], bool]

_PROJECTS: list[tuple[str, str, list[str], list[_AutomationSeed]]] = [
    (
        "Content operations",
        "Notifications and housekeeping around the editorial workflow.",
        ["editorial"],
        [
            (
                "Notify Slack when a blog post is published",
                "Posts the title and URL of every published blog post to #content.",
                ("Contentstack", "Entry Published"),
                [("Slack", "Send Message")],
                True,
            ),
            (
                "Translate new blog posts to French",
                "Drafts a French localized version of each new English blog post.",
                ("Contentstack", "Entry Created"),
                [("ChatGPT", "Chat"), ("Contentstack", "Update Entry")],
                False,
            ),
            (
                "Rebuild the sitemap nightly",
                "Calls the site's build hook every night at 02:00 UTC.",
                ("Scheduler", "Recurring Schedule"),
                [("HTTP", "Send Request")],
                True,
            ),
            (
                "Tag products on update",
                "Work in progress: the tagging action is not configured yet.",
                ("Contentstack", "Entry Updated"),
                [],
                False,
            ),
        ],
    ),
    (
        "Commerce sync",
        "Keeps the storefront search index and promotions in step with the stack.",
        ["commerce", "search"],
        [
            (
                "Sync products to the search index",
                "Sends every published product to the storefront search index.",
                ("Contentstack", "Entry Published"),
                [("Transform", "Transform"), ("HTTP", "Send Request")],
                True,
            ),
            (
                "Unpublish expired promotions",
                "Unpublishes promotion pages whose end date has passed.",
                ("Scheduler", "Recurring Schedule"),
                [("Contentstack", "Unpublish Entry")],
                False,
            ),
            (
                "Forward order webhooks",
                "Draft: no trigger chosen yet.",
                None,
                [("HTTP", "Send Request")],
                False,
            ),
        ],
    ),
]

_FAILURES = [
    "The connected account's token has expired; reconnect the account.",
    "The remote service answered 429 Too Many Requests.",
    "The remote service answered 502 Bad Gateway.",
    "The request timed out after 30 seconds.",
    "A required field of the input was empty.",
]

DEMO_USER_ID = "blt7d1c2e3f4a5b6c7d"


def demo_user(org_uid: str) -> Doc:
    """The user the demo authtoken belongs to, as audit logs name it."""
    return {
        "uid": DEMO_USER_ID,
        "username": "sandbox_owner",
        "email": "owner@sandbox.example",
        "first_name": "Sandbox",
        "last_name": "Owner",
        "role": 1,
        "org_uid": org_uid,
        "active": True,
    }


def _group(connector: str) -> str:
    return connector.lower().replace(" ", "_")


def _automation_doc(
    ids: _Ids,
    seed: _AutomationSeed,
    project_id: str,
    org_id: str,
    created: datetime,
) -> Doc:
    title, description, trigger_seed, actions, active = seed
    steps: list[Doc] = []
    for index, (connector, action) in enumerate(actions):
        steps.append(
            {
                "id": ids.hex32(),
                "name": str(110001 + index),
                "type": "action",
                "title": action,
                "action_title": action,
                "connector_title": connector,
                "connector_id": ids.hex32(),
                "group_name": _group(connector),
                "description": f"{connector}: {action}.",
                "next": [],
                "version": 1,
            }
        )
    for step, following in itertools.pairwise(steps):
        step["next"] = [following["name"]]
    trigger: Doc | None = None
    if trigger_seed is not None:
        connector, event = trigger_seed
        trigger = {
            "id": ids.hex32(),
            "title": event,
            "connector_title": connector,
            "group_name": _group(connector),
            "next": [steps[0]["name"]] if steps else [],
        }
    return {
        "id": ids.hex32(),
        "title": title,
        "description": description,
        "project_id": project_id,
        "org_id": org_id,
        "user_id": DEMO_USER_ID,
        "active": active,
        "updated_by": DEMO_USER_ID,
        "throttle": False,
        "isDraftRule": not (trigger and steps),
        "step_groups": [_group(c) for c, _ in actions],
        "trigger": trigger,
        "steps": steps,
        "created_at": iso(created),
        "updated_at": iso(created),
    }


def _execution_doc(ids: _Ids, rng: random.Random, automation: Doc, at: datetime, failed: bool) -> Doc:
    trigger = cast(Doc, automation["trigger"])
    steps = cast(list[Doc], automation["steps"])
    start_ms = int(at.timestamp() * 1000)
    details: list[Doc] = []
    clock = start_ms
    end = clock + rng.randint(2, 15)
    details.append({"start": clock, "end": end, "title": str(trigger["title"]), "name": "1", "status": "success"})
    clock = end
    failing = rng.randrange(len(steps)) if failed else -1
    for index, step in enumerate(steps):
        end = clock + rng.randint(20, 1800)
        detail: Doc = {
            "start": clock,
            "end": end,
            "parent": None,
            "counter": 0,
            "group": step["group_name"],
            "name": step["name"],
            "title": step["title"],
            "status": "failed" if index == failing else "success",
        }
        if index == failing:
            detail["error"] = {"message": rng.choice(_FAILURES)}
        details.append(detail)
        clock = end
        if index == failing:
            break
    return {
        "id": ids.hex32(),
        "title": automation["title"],
        "project_id": automation["project_id"],
        "org_id": automation["org_id"],
        "rule_id": automation["id"],
        "trigger_payload_id": ids.hex32(),
        "status": "failed" if failed else "success",
        "task": len(details),
        "resume": 0,
        "details": details,
        "step_name_map": {d["name"]: str(i + 1) for i, d in enumerate(details)},
        "duration": clock - start_ms,
        "created_at": iso(at),
        "updated_at": iso(at + timedelta(milliseconds=clock - start_ms)),
    }


def audit_entry(uid: str, event: str, automation: Doc, org_uid: str, at: datetime, request_id: str) -> Doc:
    """An audit-log entry about one automation, holding the automation as it became."""
    return {
        "uid": uid,
        "app_type": "",
        "branch": "",
        "channels": None,
        "created_at": iso(at),
        "created_by": demo_user(org_uid),
        "event": event,
        "headers": None,
        "management_token_uid": "",
        "metadata": automation,
        "module": "Automation",
        "module_uid": automation["id"],
        "org_uid": org_uid,
        "payload": None,
        "project_uid": automation["project_id"],
        "request": {},
        "request_id": request_id,
        "response": {},
        "stack": "",
    }


def _seed(conn: sqlite3.Connection, state: SandboxState) -> None:
    rng = random.Random(f"automate:{state.config.seed}")
    ids = _Ids(rng)
    org = state.credentials.organization_uid
    now = state.clock.now()
    audit: list[Doc] = []
    for p_index, (title, description, tags, automations) in enumerate(_PROJECTS):
        project_created = now - timedelta(days=120 - 20 * p_index, minutes=rng.randint(0, 600))
        project: Doc = {
            "id": ids.hex32(),
            "title": title,
            "description": description,
            "user_id": DEMO_USER_ID,
            "org_id": org,
            "shared": [],
            "tags": tags,
            "updated_by": DEMO_USER_ID,
            "type": "standard",
            "created_at": iso(project_created),
            "updated_at": iso(project_created),
            "created_by": {k: v for k, v in demo_user(org).items() if k != "org_uid"},
        }
        conn.execute(
            "INSERT INTO automate_projects (id, org_id, position, data_json) VALUES (?, ?, ?, ?)",
            (project["id"], org, p_index, json.dumps(project)),
        )
        _seed_settings(conn, ids, project, project_created, audit)
        for a_index, seed in enumerate(automations):
            created = project_created + timedelta(days=2 + 3 * a_index, minutes=rng.randint(0, 600))
            automation = _automation_doc(ids, seed, project["id"], org, created)
            audit.append(
                audit_entry(ids.audit_uid(), "Create", dict(automation, active=False), org, created, ids.hex32())
            )
            if automation["active"]:
                enabled = created + timedelta(hours=rng.randint(1, 48))
                automation["updated_at"] = iso(enabled)
                audit.append(audit_entry(ids.audit_uid(), "Enabled", automation, org, enabled, ids.hex32()))
            conn.execute(
                "INSERT INTO automate_automations (id, project_id, position, data_json) VALUES (?, ?, ?, ?)",
                (automation["id"], project["id"], a_index, json.dumps(automation)),
            )
            if automation["trigger"] and automation["steps"]:
                _seed_history(conn, ids, rng, automation, now)
    for entry in audit:
        conn.execute(
            "INSERT INTO automate_audit_logs (uid, project_id, created_at, data_json) VALUES (?, ?, ?, ?)",
            (entry["uid"], entry["project_uid"], entry["created_at"], json.dumps(entry)),
        )


_VARIABLES: list[tuple[str, str, str]] = [
    ("SLACK_CHANNEL", "text", "#content"),
    ("SEARCH_API_KEY", "password", "sk-sandbox-search-0a1b2c3d4e5f"),
]
_ACCOUNTS: list[tuple[str, str, str, str]] = [
    ("Slack workspace", "slack", "oauth2", "Posts to the editorial workspace."),
    ("OpenAI key", "chatgpt", "custom", "API key for the ChatGPT connector."),
]


def encrypted(value: str, salt: str) -> str:
    """A `password` variable's value as Automate answers it: `ENC_...`, not the value."""
    digest = hashlib.sha256(f"{salt}:{value}".encode()).digest()
    return "ENC_" + base64.b64encode(digest).decode()[:40]


def _variable_doc(var_id: str, project: Doc, key: str, kind: str, value: str, at: datetime) -> Doc:
    return {
        "key": key,
        "value": encrypted(value, var_id) if kind == SECRET_TYPE else value,
        "org_id": project["org_id"],
        "project_id": project["id"],
        "type": kind,
        "created_at": iso(at),
        "updated_at": iso(at),
        "id": var_id,
    }


def _seed_settings(conn: sqlite3.Connection, ids: _Ids, project: Doc, created: datetime, audit: list[Doc]) -> None:
    """A project's variables (one `text`, one `password`) and connected accounts; each account's
    creation is in the audit log with its credentials, as Automate records it."""
    for position, (key, kind, value) in enumerate(_VARIABLES):
        doc = _variable_doc(ids.hex32(), project, key, kind, value, created + timedelta(hours=position + 1))
        conn.execute(
            "INSERT INTO automate_variables (id, project_id, position, data_json) VALUES (?, ?, ?, ?)",
            (doc["id"], project["id"], position, json.dumps(doc)),
        )
    for position, (title, group, kind, description) in enumerate(_ACCOUNTS):
        at = created + timedelta(hours=position + 3)
        account: Doc = {
            "group_name": group,
            "title": title,
            "description": description,
            "auth_id": ids.hex32(),
            "user_id": DEMO_USER_ID,
            "org_id": project["org_id"],
            "connector_id": ids.hex32(),
            "project_id": project["id"],
            "type": kind,
            "source": "automations",
            "updated_by": DEMO_USER_ID,
            "scope_join_char": ",",
            "created_at": iso(at),
            "updated_at": iso(at),
            "id": ids.hex32(),
        }
        if kind == "oauth2":
            account["meta"] = json.dumps({"scope": {f"{group}:write": True}}, separators=(",", ":"))
        held = account | {
            "auth": encrypted(ids.hex32(), account["id"]),
            "client_id": "C_" + ids.hex32()[:14],
            "client_secret": "cs-sandbox-" + ids.hex32(),
            "access_url": TOKEN_URL,
            "done": True,
        }
        conn.execute(
            "INSERT INTO automate_accounts (id, project_id, position, data_json) VALUES (?, ?, ?, ?)",
            (account["id"], project["id"], position, json.dumps(held)),
        )
        entry = audit_entry(ids.audit_uid(), "Create", held, project["org_id"], at, ids.hex32())
        audit.append(entry | {"module": "Connected Apps", "module_uid": account["id"]})


def _public_account(held: Doc) -> Doc:
    return {k: v for k, v in held.items() if k not in ACCOUNT_SECRETS}


def _seed_history(conn: sqlite3.Connection, ids: _Ids, rng: random.Random, automation: Doc, now: datetime) -> None:
    """Thirty days of runs: active automations run most days; inactive ones ran before they
    were switched off. About one run in six fails."""
    days = range(30) if automation["active"] else range(18, 30)
    for day in days:
        for _ in range(rng.randint(0, 3)):
            at = now - timedelta(days=day, seconds=rng.randint(60, 86_000))
            execution = _execution_doc(ids, rng, automation, at, failed=rng.random() < 0.17)
            conn.execute(
                "INSERT INTO automate_executions (id, project_id, created_at, data_json) VALUES (?, ?, ?, ?)",
                (execution["id"], execution["project_id"], execution["created_at"], json.dumps(execution)),
            )


def setup(state: SandboxState) -> None:
    """Creates the Automate tables; wipes them when `config.reset`; seeds them when empty."""
    with state.db.transaction() as conn:
        # Children first: the foreign keys are enforced.
        tables = (*PROJECT_TABLES, "automate_projects")
        create_tables(conn, _TABLES, wipe=tables if state.config.reset else ())
        (count,) = conn.execute("SELECT COUNT(*) FROM automate_projects").fetchone()
        if count == 0:
            _seed(conn, state)


# -- requests ---------------------------------------------------------------------------


# Automate answers a missing object 404 where the CMA answers 422.
MISSING_STATUS = 404


def _bad_parameter(name: str, problem: str) -> RequestRefused:
    return bad_request(f"Invalid value for '{name}': {problem}.", {name: [problem]}, code=BAD_PARAMETER_CODE)


def authenticate(state: SandboxState, request: Request) -> Response | None:
    """None when the request carries the demo authtoken (or it as a Bearer token) and the demo
    organization; else the 401 Automate answers. Management tokens are not accepted."""
    creds = state.credentials
    authtoken = request.headers.get("authtoken")
    authorization = request.headers.get("authorization", "")
    if authorization and not authtoken:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            authtoken = token.strip()
        elif authorization.strip() == creds.management_token:
            return error_response(
                401,
                AUTH_CODE,
                "Management tokens are not accepted by the Automate API; use an authtoken or OAuth token.",
            )
    if authtoken != creds.authtoken:
        return error_response(401, AUTH_CODE, "You're not logged in. The authtoken is missing, invalid or expired.")
    if request.headers.get("organization_uid") != creds.organization_uid:
        return error_response(
            401, AUTH_CODE, "The organization_uid header is missing or names an organization you cannot access."
        )
    return None


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_parameter(name, "must be a whole number") from None
    if value < 0:
        raise _bad_parameter(name, "must not be negative")
    if maximum is not None and value > maximum:
        raise _bad_parameter(name, f"must be between 0 and {maximum}")
    return value


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() == "true"


def _query_filter(request: Request) -> dict[str, Any]:
    raw = request.query_params.get("query")
    if raw is None or not raw.strip():
        return {}
    try:
        parsed: Any = strict_json.loads(raw)
    except ValueError:
        try:
            # The reference writes the query with single quotes: {'active':'true'}.
            parsed = strict_json.loads(raw.replace("'", '"'))
        except ValueError:
            raise _bad_parameter("query", "must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise _bad_parameter("query", "must be a JSON object")
    query = cast(dict[str, Any], parsed)
    for key, value in query.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _bad_parameter("query", f"the value of {key!r} must be a string, number or boolean")
    return query


def _matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    for key, wanted in query.items():
        have = doc.get(key)
        if isinstance(have, bool):
            if isinstance(wanted, bool):
                if have is not wanted:
                    return False
            elif str(wanted).strip().lower() != ("true" if have else "false"):
                return False
        elif have is None or str(have) != str(wanted):
            return False
    return True


def _list_answer(
    request: Request, key: str, docs: list[Doc], kind: str, default_limit: int, newest_first: bool
) -> Response:
    limit = _int_param(request, "limit", default_limit, MAX_LIMIT)
    skip = _int_param(request, "skip", 0)
    query = _query_filter(request)
    asc = request.query_params.get("asc")
    desc = request.query_params.get("desc")
    for name, field in (("asc", asc), ("desc", desc)):
        if field is not None and field not in _SORTABLE[kind]:
            raise _bad_parameter(name, f"may sort only by {', '.join(sorted(_SORTABLE[kind]))}")
    selected = [d for d in docs if _matches(d, query)]
    if asc or desc:
        field = asc or desc or "created_at"
        selected.sort(key=lambda d: str(d.get(field, "")), reverse=desc is not None and asc is None)
    elif newest_first:
        selected.sort(key=lambda d: str(d.get("created_at", "")), reverse=True)
    body: Doc = {key: selected[skip : skip + limit]}
    if _flag(request, "include_count"):
        body["count"] = len(selected)
    return JSONResponse(body)


def _without_steps(automation: Doc) -> Doc:
    return {k: v for k, v in automation.items() if k not in ("trigger", "steps", "step_groups")}


def missing_parts(automation: Mapping[str, Any]) -> list[str]:
    """What an automation lacks before it may be switched on or off: a trigger, an action."""
    missing: list[str] = []
    if not automation.get("trigger"):
        missing.append("trigger")
    steps = automation.get("steps")
    step_list = cast(list[Any], steps) if isinstance(steps, list) else []
    if not any(isinstance(s, dict) and cast(Doc, s).get("type") == "action" for s in step_list):
        missing.append("action")
    return missing


class _Handlers:
    """The request handlers, over one sandbox state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _project(self, conn: sqlite3.Connection, project_id: str) -> Doc:
        """The organization's project `project_id`.

        Raises:
            RequestRefused: it has none (Automate's 404).
        """
        row = conn.execute(
            "SELECT data_json FROM automate_projects WHERE id = ? AND org_id = ?",
            (project_id, self.state.credentials.organization_uid),
        ).fetchone()
        if row is None:
            raise not_found("project", field="project_uid", status=MISSING_STATUS)
        return _loads(row["data_json"])

    def _automation(self, conn: sqlite3.Connection, project_id: str, automation_id: str) -> Doc | None:
        row = conn.execute(
            "SELECT data_json FROM automate_automations WHERE id = ? AND project_id = ?", (automation_id, project_id)
        ).fetchone()
        return _loads(row["data_json"]) if row else None

    async def projects(self, request: Request) -> Response:
        with self.state.db.read() as conn:
            rows = conn.execute(
                "SELECT data_json FROM automate_projects WHERE org_id = ? ORDER BY position",
                (self.state.credentials.organization_uid,),
            ).fetchall()
        docs = [_loads(r["data_json"]) for r in rows]
        return _list_answer(request, "projects", docs, "projects", 30, newest_first=False)

    async def project(self, request: Request) -> Response:
        with self.state.db.read() as conn:
            project = self._project(conn, request.path_params["project_id"])
        return JSONResponse(project)

    async def automations(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_automations WHERE project_id = ? ORDER BY position",
        )
        docs = [_loads(r["data_json"]) for r in found]
        if not _flag(request, "show_steps"):
            docs = [_without_steps(d) for d in docs]
        return _list_answer(request, "rules", docs, "automations", 100, newest_first=False)

    async def automation(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        with self.state.db.read() as conn:
            self._project(conn, project_id)
            automation = self._automation(conn, project_id, request.path_params["automation_id"])
        if automation is None:
            raise not_found("automation", field="automation_uid", status=MISSING_STATUS)
        return JSONResponse(automation if _flag(request, "show_steps") else _without_steps(automation))

    async def set_active(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        automation_id = request.path_params["automation_id"]
        body = await json_value(request)
        active = cast(Doc, body).get("active") if isinstance(body, dict) else None
        if not isinstance(active, bool):
            raise bad_request(
                "The body must be a JSON object with a boolean 'active'.",
                {"active": ["must be true or false"]},
                code=BAD_PARAMETER_CODE,
            )
        with self.state.db.transaction() as conn:
            self._project(conn, project_id)
            automation = self._automation(conn, project_id, automation_id)
            if automation is None:
                raise not_found("automation", field="automation_uid", status=MISSING_STATUS)
            missing = missing_parts(automation)
            if missing:
                verb = "activated" if active else "deactivated"
                raise invalid(
                    f"The automation cannot be {verb}: it needs a trigger and an action configured, "
                    f"and it has no {' and no '.join(missing)}.",
                    {part: ["is not configured."] for part in missing},
                    code=CANNOT_TOGGLE_CODE,
                )
            message = f"automation has been {'activated' if active else 'deactivated'} successfully"
            if automation.get("active") is active:
                return JSONResponse({"message": message})
            now = self.state.clock.now()
            automation["active"] = active
            automation["updated_at"] = iso(now)
            automation["updated_by"] = DEMO_USER_ID
            conn.execute(
                "UPDATE automate_automations SET data_json = ? WHERE id = ?", (json.dumps(automation), automation_id)
            )
            (entries,) = conn.execute("SELECT COUNT(*) FROM automate_audit_logs").fetchone()
            ids = _Ids(random.Random(f"automate:{self.state.config.seed}:audit:{entries}"))
            entry = audit_entry(
                ids.audit_uid(),
                "Enabled" if active else "Disabled",
                automation,
                self.state.credentials.organization_uid,
                now,
                ids.hex32(),
            )
            conn.execute(
                "INSERT INTO automate_audit_logs (uid, project_id, created_at, data_json) VALUES (?, ?, ?, ?)",
                (entry["uid"], project_id, entry["created_at"], json.dumps(entry)),
            )
        return JSONResponse({"message": message})

    def _in_project(self, project_id: str, sql: str, *args: str) -> list[sqlite3.Row]:
        """The rows `sql` selects (its first parameter the project id).

        Raises:
            RequestRefused: no such project (Automate's 404).
        """
        with self.state.db.read() as conn:
            self._project(conn, project_id)
            return conn.execute(sql, (project_id, *args)).fetchall()

    def _listed(
        self, request: Request, table: str, order: str, key: str, kind: str, newest_first: bool, shape: Shape = dict
    ) -> Response:
        """A list of a project's objects of `table`, under `key`, as `_list_answer` pages it."""
        found = self._in_project(
            request.path_params["project_id"],
            f"SELECT data_json FROM {table} WHERE project_id = ? ORDER BY {order}",  # noqa: S608 - fixed names
        )
        docs = [shape(_loads(r["data_json"])) for r in found]
        return _list_answer(request, key, docs, kind, 30 if kind == "audit_logs" else 100, newest_first=newest_first)

    def _one(
        self, request: Request, table: str, id_column: str, id_param: str, what: str, shape: Shape = dict
    ) -> Response:
        """One object of a project's `table`.

        Raises RequestRefused: no such project, or no such object (404 naming `what` and
        `<id_param>`'s field).
        """
        found = self._in_project(
            request.path_params["project_id"],
            f"SELECT data_json FROM {table} WHERE project_id = ? AND {id_column} = ?",  # noqa: S608 - fixed names
            request.path_params[id_param],
        )
        if not found:
            raise not_found(what, field=_ERROR_FIELDS[id_param], status=MISSING_STATUS)
        return JSONResponse(shape(_loads(found[0]["data_json"])))

    async def executions(self, request: Request) -> Response:
        order = "created_at DESC, rowid DESC"
        return self._listed(request, "automate_executions", order, "executions", "executions", newest_first=True)

    async def execution(self, request: Request) -> Response:
        return self._one(request, "automate_executions", "id", "execution_id", "execution log")

    async def audit_logs(self, request: Request) -> Response:
        order = "created_at DESC, rowid DESC"
        return self._listed(request, "automate_audit_logs", order, "logs", "audit_logs", newest_first=True)

    async def audit_log(self, request: Request) -> Response:
        return self._one(request, "automate_audit_logs", "uid", "log_id", "audit log")

    # -- project writes -----------------------------------------------------------------------

    def _audit(self, conn: sqlite3.Connection, event: str, module: str, subject: Doc, project_id: str) -> None:
        (entries,) = conn.execute("SELECT COUNT(*) FROM automate_audit_logs").fetchone()
        ids = _Ids(random.Random(f"automate:{self.state.config.seed}:audit:{entries}"))
        now = self.state.clock.now()
        held = subject | {"project_id": project_id}
        entry = audit_entry(ids.audit_uid(), event, held, self.state.credentials.organization_uid, now, ids.hex32())
        entry |= {"module": module, "module_uid": subject["id"]}
        conn.execute(
            "INSERT INTO automate_audit_logs (uid, project_id, created_at, data_json) VALUES (?, ?, ?, ?)",
            (entry["uid"], project_id, entry["created_at"], json.dumps(entry)),
        )

    def _new_id(self, conn: sqlite3.Connection, table: str) -> str:
        (rows,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
        return _Ids(random.Random(f"automate:{self.state.config.seed}:{table}:{rows}:{self.state.clock.now()}")).hex32()

    async def create_project(self, request: Request) -> Response:
        body = await _json_body(request)
        fields = _project_fields(body, creating=True)
        now = iso(self.state.clock.now())
        org = self.state.credentials.organization_uid
        with self.state.db.transaction() as conn:
            project: Doc = {
                "title": fields["title"],
                "description": fields.get("description", ""),
                "user_id": DEMO_USER_ID,
                "org_id": org,
                "shared": [],
                "tags": fields.get("tags", []),
                "updated_by": DEMO_USER_ID,
                "created_at": now,
                "updated_at": now,
                "id": self._new_id(conn, "automate_projects"),
            }
            (position,) = conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM automate_projects").fetchone()
            conn.execute(
                "INSERT INTO automate_projects (id, org_id, position, data_json) VALUES (?, ?, ?, ?)",
                (project["id"], org, position, json.dumps(project)),
            )
            self._audit(conn, "Create", "Project", project, project["id"])
        return JSONResponse(project, status_code=201)

    async def update_project(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        fields = _project_fields(await _json_body(request), creating=False)
        with self.state.db.transaction() as conn:
            project = self._project(conn, project_id)
            project |= fields | {"updated_at": iso(self.state.clock.now()), "updated_by": DEMO_USER_ID}
            conn.execute("UPDATE automate_projects SET data_json = ? WHERE id = ?", (json.dumps(project), project_id))
            self._audit(conn, "Update", "Project", project, project_id)
        return JSONResponse(project)

    async def delete_project(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        with self.state.db.transaction() as conn:
            self._project(conn, project_id)
            for table in PROJECT_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))  # noqa: S608 - fixed names
            conn.execute("DELETE FROM automate_projects WHERE id = ?", (project_id,))
        return JSONResponse({"message": "Project deleted successfully."})

    # -- project variables --------------------------------------------------------------------

    async def variables(self, request: Request) -> Response:
        return self._listed(request, "automate_variables", "position", "variables", "variables", newest_first=False)

    async def variable(self, request: Request) -> Response:
        return self._one(request, "automate_variables", "id", "variable_id", "variable")

    def _refuse_taken_key(self, conn: sqlite3.Connection, project_id: str, key: str, other_than: str = "") -> None:
        """Raises RequestRefused (422) when a variable of the project other than `other_than` has `key`."""
        for row in conn.execute("SELECT id, data_json FROM automate_variables WHERE project_id = ?", (project_id,)):
            if row["id"] != other_than and _loads(row["data_json"]).get("key") == key:
                raise invalid(
                    f"A variable with the key '{key}' already exists.", {"key": ["is taken."]}, code=CANNOT_TOGGLE_CODE
                )

    async def create_variable(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        key, kind, value = _variable_fields(await _json_body(request))
        with self.state.db.transaction() as conn:
            project = self._project(conn, project_id)
            self._refuse_taken_key(conn, project_id, key)
            doc = _variable_doc(
                self._new_id(conn, "automate_variables"), project, key, kind, value, self.state.clock.now()
            )
            (position,) = conn.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM automate_variables WHERE project_id = ?", (project_id,)
            ).fetchone()
            conn.execute(
                "INSERT INTO automate_variables (id, project_id, position, data_json) VALUES (?, ?, ?, ?)",
                (doc["id"], project_id, position, json.dumps(doc)),
            )
        return JSONResponse(doc, status_code=201)

    async def update_variable(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        variable_id = request.path_params["variable_id"]
        key, kind, value = _variable_fields(await _json_body(request))
        with self.state.db.transaction() as conn:
            project = self._project(conn, project_id)
            row = conn.execute(
                "SELECT data_json FROM automate_variables WHERE id = ? AND project_id = ?", (variable_id, project_id)
            ).fetchone()
            if row is None:
                raise not_found("variable", field="variable_uid", status=MISSING_STATUS)
            self._refuse_taken_key(conn, project_id, key, other_than=variable_id)
            created = _loads(row["data_json"])["created_at"]
            doc = _variable_doc(variable_id, project, key, kind, value, self.state.clock.now())
            doc["created_at"] = created
            conn.execute("UPDATE automate_variables SET data_json = ? WHERE id = ?", (json.dumps(doc), variable_id))
        return JSONResponse(doc)

    async def delete_variable(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        with self.state.db.transaction() as conn:
            self._project(conn, project_id)
            gone = conn.execute(
                "DELETE FROM automate_variables WHERE id = ? AND project_id = ?",
                (request.path_params["variable_id"], project_id),
            ).rowcount
        if not gone:
            raise not_found("variable", field="variable_uid", status=MISSING_STATUS)
        return JSONResponse({"message": "Project variable deleted successfully."})

    # -- connected accounts ---------------------------------------------------------------------

    async def accounts(self, request: Request) -> Response:
        return self._listed(
            request, "automate_accounts", "position", "accounts", "accounts", newest_first=False, shape=_public_account
        )

    async def account(self, request: Request) -> Response:
        return self._one(request, "automate_accounts", "id", "account_id", "account", shape=_public_account)


async def _json_body(request: Request) -> Doc:
    """The request's JSON object. Raises RequestRefused (400) when the body is not one."""
    body = await json_value(request)
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.", {"body": ["is not an object"]}, code=BAD_PARAMETER_CODE)
    return cast(Doc, body)


def _project_fields(body: Doc, *, creating: bool) -> Doc:
    fields: Doc = {}
    title = body.get("title")
    if title is not None or creating:
        if not isinstance(title, str) or not title.strip():
            raise _bad_parameter("title", "must be a non-empty string")
        fields["title"] = title
    description = body.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise _bad_parameter("description", "must be a string")
        fields["description"] = description
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in cast(list[Any], tags)):
            raise _bad_parameter("tags", "must be a list of strings")
        fields["tags"] = tags
    return fields


def _variable_fields(body: Doc) -> tuple[str, str, str]:
    key, kind, value = body.get("key"), body.get("type"), body.get("value")
    if not isinstance(key, str) or not key.strip():
        raise _bad_parameter("key", "must be a non-empty string")
    if kind not in VARIABLE_TYPES:
        raise _bad_parameter("type", f"must be one of {', '.join(VARIABLE_TYPES)}")
    if not isinstance(value, str):
        raise _bad_parameter("value", "must be a string")
    return key, cast(str, kind), value


def routes(state: SandboxState) -> list[BaseRoute]:
    """The Automate routes, relative to `/automate/v1`."""
    h = _Handlers(state)
    return routes_behind(
        lambda request: authenticate(state, request),
        [
            ("/projects", "GET", h.projects),
            ("/projects", "POST", h.create_project),
            ("/projects/{project_id}", "GET", h.project),
            ("/projects/{project_id}", "PUT", h.update_project),
            ("/projects/{project_id}", "DELETE", h.delete_project),
            ("/projects/{project_id}/variables", "GET", h.variables),
            ("/projects/{project_id}/variables", "POST", h.create_variable),
            ("/projects/{project_id}/variables/{variable_id}", "GET", h.variable),
            ("/projects/{project_id}/variables/{variable_id}", "PUT", h.update_variable),
            ("/projects/{project_id}/variables/{variable_id}", "DELETE", h.delete_variable),
            ("/projects/{project_id}/accounts", "GET", h.accounts),
            ("/projects/{project_id}/accounts/{account_id}", "GET", h.account),
            ("/projects/{project_id}/automations", "GET", h.automations),
            ("/projects/{project_id}/automations/{automation_id}", "GET", h.automation),
            ("/projects/{project_id}/automations/{automation_id}", "PATCH", h.set_active),
            ("/projects/{project_id}/executions", "GET", h.executions),
            ("/projects/{project_id}/executions/{execution_id}", "GET", h.execution),
            ("/projects/{project_id}/audit-logs", "GET", h.audit_logs),
            ("/projects/{project_id}/audit-logs/{log_id}", "GET", h.audit_log),
        ],
    )
