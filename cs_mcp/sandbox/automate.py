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

Choices where the reference is silent (OPEN, written down here):
- Execution logs filter through the same `query` object, on their own field names:
  `{"rule_id": "<automation id>", "status": "failed"}`.
- Execution logs and audit logs list newest first unless `asc` / `desc` says otherwise;
  projects and automations list in creation order.
- Error bodies follow Contentstack's documented shape `{"error_message", "error_code",
  "errors"}`: 404 error 141 for an unknown id, 400 error 400 for a malformed parameter, 422
  error 119 for an automation that cannot be switched on or off.
- A PATCH to the state an automation already has succeeds and writes no audit entry.

The seed is deterministic from `config.seed` and the sandbox clock: two projects, automations
in both states (one without an action, one without a trigger), 30 days of execution history
with successes and failures, and the audit entries of their creation and activation.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cs_mcp.sandbox.state import SandboxState, create_tables, error_response

NOT_FOUND_CODE = 141
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
}

_TABLES = """
CREATE TABLE IF NOT EXISTS automate_projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    data_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS automate_automations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES automate_projects(id),
    position INTEGER NOT NULL,
    data_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS automate_executions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES automate_projects(id),
    created_at TEXT NOT NULL,
    data_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS automate_audit_logs (
    uid TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES automate_projects(id),
    created_at TEXT NOT NULL,
    data_json TEXT NOT NULL
);
"""

Doc = dict[str, Any]


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
    # Children first: the foreign keys are enforced.
    tables = ("automate_audit_logs", "automate_executions", "automate_automations", "automate_projects")
    with state.db.transaction() as conn:
        create_tables(conn, _TABLES, wipe=tables if state.config.reset else ())
        (count,) = conn.execute("SELECT COUNT(*) FROM automate_projects").fetchone()
        if count == 0:
            _seed(conn, state)


# -- requests ---------------------------------------------------------------------------


class _BadRequest(Exception):
    """A request the API refuses; carries the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _bad_parameter(name: str, problem: str) -> _BadRequest:
    return _BadRequest(
        error_response(400, BAD_PARAMETER_CODE, f"Invalid value for '{name}': {problem}.", {name: [problem]})
    )


def _not_found(what: str, field: str) -> Response:
    return error_response(404, NOT_FOUND_CODE, f"The requested {what} doesn't exist.", {field: ["is not valid."]})


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
        parsed: Any = json.loads(raw)
    except ValueError:
        try:
            # The reference writes the query with single quotes: {'active':'true'}.
            parsed = json.loads(raw.replace("'", '"'))
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

    def _project(self, conn: sqlite3.Connection, project_id: str) -> Doc | None:
        row = conn.execute(
            "SELECT data_json FROM automate_projects WHERE id = ? AND org_id = ?",
            (project_id, self.state.credentials.organization_uid),
        ).fetchone()
        return _loads(row["data_json"]) if row else None

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
        return JSONResponse(project) if project else _not_found("project", "project_uid")

    async def automations(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_automations WHERE project_id = ? ORDER BY position",
        )
        if isinstance(found, Response):
            return found
        docs = [_loads(r["data_json"]) for r in found]
        if not _flag(request, "show_steps"):
            docs = [_without_steps(d) for d in docs]
        return _list_answer(request, "rules", docs, "automations", 100, newest_first=False)

    async def automation(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        with self.state.db.read() as conn:
            if self._project(conn, project_id) is None:
                return _not_found("project", "project_uid")
            automation = self._automation(conn, project_id, request.path_params["automation_id"])
        if automation is None:
            return _not_found("automation", "automation_uid")
        return JSONResponse(automation if _flag(request, "show_steps") else _without_steps(automation))

    async def set_active(self, request: Request) -> Response:
        project_id = request.path_params["project_id"]
        automation_id = request.path_params["automation_id"]
        try:
            body: Any = json.loads(await request.body() or b"null")
        except ValueError:
            body = None
        active = cast(Doc, body).get("active") if isinstance(body, dict) else None
        if not isinstance(active, bool):
            return error_response(
                400,
                BAD_PARAMETER_CODE,
                "The body must be a JSON object with a boolean 'active'.",
                {"active": ["must be true or false"]},
            )
        with self.state.db.transaction() as conn:
            if self._project(conn, project_id) is None:
                return _not_found("project", "project_uid")
            automation = self._automation(conn, project_id, automation_id)
            if automation is None:
                return _not_found("automation", "automation_uid")
            missing = missing_parts(automation)
            if missing:
                verb = "activated" if active else "deactivated"
                return error_response(
                    422,
                    CANNOT_TOGGLE_CODE,
                    f"The automation cannot be {verb}: it needs a trigger and an action configured, "
                    f"and it has no {' and no '.join(missing)}.",
                    {part: ["is not configured."] for part in missing},
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

    def _in_project(self, project_id: str, sql: str, *args: str) -> list[sqlite3.Row] | Response:
        """The rows `sql` selects (its first parameter the project id), or the project's 404."""
        with self.state.db.read() as conn:
            if self._project(conn, project_id) is None:
                return _not_found("project", "project_uid")
            return conn.execute(sql, (project_id, *args)).fetchall()

    async def executions(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_executions WHERE project_id = ? ORDER BY created_at DESC, rowid DESC",
        )
        if isinstance(found, Response):
            return found
        docs = [_loads(r["data_json"]) for r in found]
        return _list_answer(request, "executions", docs, "executions", 100, newest_first=True)

    async def execution(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_executions WHERE project_id = ? AND id = ?",
            request.path_params["execution_id"],
        )
        if isinstance(found, Response):
            return found
        return JSONResponse(_loads(found[0]["data_json"])) if found else _not_found("execution log", "execution_uid")

    async def audit_logs(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_audit_logs WHERE project_id = ? ORDER BY created_at DESC, rowid DESC",
        )
        if isinstance(found, Response):
            return found
        docs = [_loads(r["data_json"]) for r in found]
        return _list_answer(request, "logs", docs, "audit_logs", 30, newest_first=True)

    async def audit_log(self, request: Request) -> Response:
        found = self._in_project(
            request.path_params["project_id"],
            "SELECT data_json FROM automate_audit_logs WHERE project_id = ? AND uid = ?",
            request.path_params["log_id"],
        )
        if isinstance(found, Response):
            return found
        return JSONResponse(_loads(found[0]["data_json"])) if found else _not_found("audit log", "auditlog_uid")


def _guarded(state: SandboxState, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        refused = authenticate(state, request)
        if refused is not None:
            return refused
        try:
            return await handler(request)
        except _BadRequest as exc:
            return exc.response

    return endpoint


def routes(state: SandboxState) -> list[BaseRoute]:
    """The Automate routes, relative to `/automate/v1`."""
    h = _Handlers(state)
    table: list[tuple[str, Callable[[Request], Any], list[str]]] = [
        ("/projects", h.projects, ["GET"]),
        ("/projects/{project_id}", h.project, ["GET"]),
        ("/projects/{project_id}/automations", h.automations, ["GET"]),
        ("/projects/{project_id}/automations/{automation_id}", h.automation, ["GET"]),
        ("/projects/{project_id}/automations/{automation_id}", h.set_active, ["PATCH"]),
        ("/projects/{project_id}/executions", h.executions, ["GET"]),
        ("/projects/{project_id}/executions/{execution_id}", h.execution, ["GET"]),
        ("/projects/{project_id}/audit-logs", h.audit_logs, ["GET"]),
        ("/projects/{project_id}/audit-logs/{log_id}", h.audit_log, ["GET"]),
    ]
    return [Route(path, _guarded(state, fn), methods=methods) for path, fn, methods in table]
