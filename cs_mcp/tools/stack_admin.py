"""The `stack_admin` toolset (off by default): environments, languages, labels, webhooks, and
reads of delivery tokens and roles.

Admin roles only: each tool needs the Contentstack OAuth scope of its requests (docs/SECURITY.md
lists them), which the built-in admin role holds and the others do not, except the environment
and language reads every role has for `describe_stack`. Every write takes the one write
pipeline through `admin_write`: the guard before anything is read, a plan, dry run,
confirmation, a permit, one audit line. Deletes always ask a human first, whatever the policy.
Secrets never leave: a delivery token's value, a webhook's password, bearer token and header
values are dropped by the client when read, and the arguments that carry them are named so that
the audit log records them as `[redacted]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from cs_mcp import client
from cs_mcp.guard import Targets
from cs_mcp.guard.destinations import webhook_refusal
from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.context import AppState, ToolContext, app_state
from cs_mcp.toolkit.declarations import ToolsetDeclarations
from cs_mcp.toolkit.entry_writes import published_environments
from cs_mcp.toolkit.identifiers import ContentTypeUid, EnvironmentName, LocaleCode, Uid
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.shape import MAX_LIMIT, ReadAnswer, clean, fit_one
from cs_mcp.toolkit.write import (
    DEFAULT_BRANCH,
    Permits,
    PlannedRequest,
    WriteAnswer,
    WriteCall,
    on_branch,
)

declare = ToolsetDeclarations("stack_admin")
M = TypeVar("M", bound=BaseModel)

Name = Annotated[str, Field(min_length=1, max_length=100, description="Display name.")]
Url = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://", description="An http(s) URL.")]


# -- answers ----------------------------------------------------------------------------------


class EnvironmentUrl(ToolModel):
    locale: LocaleCode
    url: Annotated[str, Field(max_length=2000)]


class UrlInfo(ToolModel):
    locale: str
    url: str


class EnvironmentInfo(ToolModel):
    name: str
    uid: str | None = None
    urls: list[UrlInfo] = Field(default_factory=lambda: [])


class LocaleInfo(client.Locale):
    # A language as the client reads it, but only the fields it names: whatever else
    # Contentstack answers is not shown. (No docstring: it would become the schema's description.)
    model_config = ConfigDict(extra="ignore")


class LabelInfo(ToolModel):
    uid: str
    name: str
    parent: list[str]
    content_types: list[str]


class DestinationInfo(ToolModel):
    target_url: str
    authentication_type: str | None = None
    header_names: list[str] = Field(description="Custom headers sent; their values are never shown.")


class WebhookInfo(ToolModel):
    uid: str
    name: str
    channels: list[str]
    branches: list[str]
    destinations: list[DestinationInfo]
    retry_policy: str | None = None
    disabled: bool = False


class DeliveryTokenInfo(ToolModel):
    """A delivery token's name and environments; the token itself is never shown."""

    uid: str
    name: str
    description: str | None = None
    environments: list[str]


class RoleInfo(ToolModel):
    uid: str
    name: str
    description: str | None = None
    users: int = Field(description="How many users hold the role.")


def environment_info(e: client.Environment) -> EnvironmentInfo:
    urls = [UrlInfo(locale=str(u.get("locale", "")), url=str(u.get("url", ""))) for u in e.urls]
    return EnvironmentInfo(name=e.name, uid=e.uid, urls=urls)


def locale_info(loc: client.Locale) -> LocaleInfo:
    return LocaleInfo.model_validate(loc.model_dump())


def label_info(label: client.Label) -> LabelInfo:
    return LabelInfo(uid=label.uid, name=label.name, parent=label.parent, content_types=label.content_types)


def webhook_info(w: client.Webhook) -> WebhookInfo:
    destinations = [DestinationInfo(**d.model_dump()) for d in w.destinations]
    return WebhookInfo(
        uid=w.uid,
        name=w.name,
        channels=w.channels,
        branches=w.branches,
        destinations=destinations,
        retry_policy=w.retry_policy,
        disabled=w.disabled,
    )


class AdminWriteAnswer(WriteAnswer):
    item: dict[str, Any] | None = Field(default=None, description="The object as Contentstack answered it.")


# -- the one write shape ------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection(Generic[M]):
    """A collection as the tools show it: the client's resource, how an item is shown, and
    the key that names an item in requests (a name, a code or a uid)."""

    resource: client.AdminResource[M]
    shown: Callable[[M], BaseModel]
    key_of: Callable[[M], str]

    async def write(
        self,
        call: WriteCall,
        verb: Literal["create", "update", "delete"],
        *,
        key: str | None = None,
        fields: Mapping[str, Any] | None = None,
        targets: Targets | None = None,
        before_sending: Callable[[], Awaitable[None]] | None = None,
    ) -> AdminWriteAnswer:
        """`admin_write` on this collection."""
        return await admin_write(
            call, self, verb, key=key, fields=fields or {}, targets=targets or Targets(), before_sending=before_sending
        )


async def admin_write(
    call: WriteCall,
    collection: Collection[M],
    verb: Literal["create", "update", "delete"],
    *,
    key: str | None,
    fields: Mapping[str, Any],
    targets: Targets,
    before_sending: Callable[[], Awaitable[None]] | None = None,
) -> AdminWriteAnswer:
    """Creates, updates or deletes one item of `resource` through the write pipeline.

    The guard sees `targets` before anything is read (a denial sends no request); an update or
    delete reads the collection first, so that a missing item is named with what exists and
    nothing is sent; the plan names the one request; a delete waits for a human's yes whatever
    the policy says. `before_sending` runs after the guard and the human, just before the
    request, and may refuse it.

    Raises:
        ToolError: denied, the item does not exist, confirmation refused, or Contentstack refused.
        WriteRefused: `before_sending` refused (nothing was sent).
    """
    state = call.state
    resource, shown, key_of = collection.resource, collection.shown, collection.key_of
    what = resource.one.replace("_", " ")
    if verb == "delete":
        call.insist_on_confirmation(f"deleting a {what} cannot be undone")
    await call.precheck(targets)
    label = key or str(fields.get("name") or fields.get("code") or "")
    if key is not None:
        existing = await state.client.admin.list(resource)
        known = [key_of(item) for item in existing]
        if key not in known:
            raise ToolError(
                f"there is no {what} {key!r}; the stack has: {', '.join(known) or 'none'}. Nothing was sent."
            )
    method = {"create": "POST", "update": "PUT", "delete": "DELETE"}[verb]
    path = "/v3/" + "/".join(resource.segments(key))
    plan = call.plan(
        f"{verb} {what} {label!r}",
        targets,
        requests=[PlannedRequest(method=method, path=path, summary=f"{verb} the {what}")],
        items=[f"{what} {label}"],
    )
    permit_targets = {kind: names for kind, names in targets.named().items() if kind != "branch"}

    async def execute(permits: Permits) -> tuple[str | None, BaseModel | None]:
        if before_sending is not None:
            await before_sending()
        permit = permits.for_operation(f"{resource.operation}.{verb}")
        admin = state.client.admin
        if verb == "delete":
            assert key is not None  # a delete names its item
            return await admin.delete(resource, key, permit=permit, targets=permit_targets), None
        if verb == "update":
            assert key is not None  # an update names its item
            written = await admin.update(resource, key, fields, permit=permit, targets=permit_targets)
        else:
            written = await admin.create(resource, fields, permit=permit, targets=permit_targets)
        return written.notice, shown(written.item)

    outcome = await call.run(targets=targets, plan=plan, execute=execute)
    if outcome.written and resource in (client.ENVIRONMENTS, client.LOCALES):
        state.meta.forget()  # describe_stack and the name checks read them
    notice, item = outcome.result or (None, None)
    return outcome.answer(
        AdminWriteAnswer,
        item=clean(item.model_dump(mode="json")) if item is not None else None,
        notice=notice,
    )


ENVIRONMENT = Collection(client.ENVIRONMENTS, environment_info, lambda e: e.name)
LOCALE = Collection(client.LOCALES, locale_info, lambda loc: loc.code)
LABEL = Collection(client.LABELS, label_info, lambda label: label.uid)
WEBHOOK = Collection(client.WEBHOOKS, webhook_info, lambda w: w.uid)


def _declared(read: Scope, write: Scope) -> ToolsetDeclarations:
    """How one resource's tools are declared: its list is read with `read`, its writes need
    `write`."""
    return ToolsetDeclarations("stack_admin", read_scopes=frozenset({read}), write_scopes=frozenset({write}))


def _present(**fields: Any) -> dict[str, Any]:
    """The fields the caller gave (None: leave as it is)."""
    return {k: v for k, v in fields.items() if v is not None}


async def _listed(ctx: ToolContext, resource: client.AdminResource[M]) -> list[M]:
    return await app_state(ctx).client.admin.list(resource)


A = TypeVar("A", bound=BaseModel)


def fitted(answer: A) -> A:
    """A list answer cleaned of invisible and control characters and within the response
    budget: these lists are short and answered whole, so the longest strings are cut (and say
    so) rather than items dropped."""
    kept, _cut = fit_one(answer.model_dump(mode="json"))
    return type(answer).model_validate(kept)


# -- environments -------------------------------------------------------------------------------


environment_tools = _declared(Scope.ENVIRONMENTS_READ, Scope.ENVIRONMENTS_WRITE)


class EnvironmentList(ReadAnswer):
    environments: list[EnvironmentInfo]


@environment_tools.read("List environments")
async def list_environments(ctx: ToolContext) -> EnvironmentList:
    """The stack's publishing environments with their uid and base URL per locale."""
    return fitted(EnvironmentList(environments=[environment_info(e) for e in await _listed(ctx, client.ENVIRONMENTS)]))


EnvironmentArg = Annotated[EnvironmentName, Field(description="The environment's name.")]
Urls = Annotated[list[EnvironmentUrl] | None, Field(max_length=50, description="Base URL per locale.")]
READ_ENVIRONMENTS = "list_environments"


@environment_tools.write("Create an environment", read_back=READ_ENVIRONMENTS)
async def create_environment(
    call: WriteCall,
    name: EnvironmentArg,
    urls: Urls = None,
) -> AdminWriteAnswer:
    """Add a publishing environment, with its base URL per locale."""
    fields = _present(name=name, urls=[u.model_dump() for u in urls or []])
    return await ENVIRONMENT.write(call, "create", fields=fields, targets=Targets(environments=(name,)))


@environment_tools.write("Update an environment", read_back=READ_ENVIRONMENTS)
async def update_environment(
    call: WriteCall,
    name: EnvironmentArg,
    new_name: Annotated[EnvironmentName | None, Field(description="Rename it to this.")] = None,
    urls: Urls = None,
) -> AdminWriteAnswer:
    """Rename an environment or replace its URLs."""
    fields = _present(name=new_name, urls=[u.model_dump() for u in urls] if urls is not None else None)
    renamed = (name, new_name) if new_name and new_name != name else (name,)
    return await ENVIRONMENT.write(call, "update", key=name, fields=fields, targets=Targets(environments=renamed))


@environment_tools.delete("Delete an environment", read_back=READ_ENVIRONMENTS)
async def delete_environment(call: WriteCall, name: EnvironmentArg) -> AdminWriteAnswer:
    """Delete an environment: its published content is no longer delivered. Always asks the
    user first: show the preview, call again with the token only if they agree."""
    return await ENVIRONMENT.write(call, "delete", key=name, targets=Targets(environments=(name,)))


# -- languages ----------------------------------------------------------------------------------


locale_tools = _declared(Scope.LANGUAGES_READ, Scope.LANGUAGES_WRITE)


class LocaleList(ReadAnswer):
    locales: list[LocaleInfo]


@locale_tools.read("List locales")
async def list_locales(ctx: ToolContext) -> LocaleList:
    """The stack's languages: code, name and fallback language (the master falls back to none or itself)."""
    return fitted(LocaleList(locales=[locale_info(loc) for loc in await _listed(ctx, client.LOCALES)]))


CodeArg = Annotated[LocaleCode, Field(description="The language code, e.g. fr-fr.")]
Fallback = Annotated[LocaleCode | None, Field(description="The language to fall back to (default: master).")]
READ_LOCALES = "list_locales"


@locale_tools.write("Add a locale", read_back=READ_LOCALES)
async def add_locale(
    call: WriteCall,
    code: CodeArg,
    name: Name | None = None,
    fallback_locale: Fallback = None,
) -> AdminWriteAnswer:
    """Add a language to the stack, with its fallback (default: master)."""
    fields = _present(code=code, name=name, fallback_locale=fallback_locale)
    return await LOCALE.write(call, "create", fields=fields, targets=Targets(locales=(code,)))


@locale_tools.write("Update a locale", read_back=READ_LOCALES)
async def update_locale(
    call: WriteCall,
    code: CodeArg,
    name: Name | None = None,
    fallback_locale: Fallback = None,
) -> AdminWriteAnswer:
    """Rename a language or change its fallback (a code cannot change)."""
    fields = _present(name=name, fallback_locale=fallback_locale)
    return await LOCALE.write(call, "update", key=code, fields=fields, targets=Targets(locales=(code,)))


async def _language_reach(state: AppState, code: str) -> Targets:
    """What deleting the language `code` reaches: Contentstack deletes every entry version in
    it, so the content types that have one and the environments those versions are published
    to. Those include entries published in it without being localized there (Contentstack
    publishes the content of the language it falls back to). Where such a publish record is
    answered is not documented: with the entry read in `code`, or with the version it was
    published from. So every language of the fallback chain is read, and an entry counts when
    it is the language's own version or has a publish record in the language. Read from fresh
    lists: a language or content type added within the cache's minute holds entries too. A
    language the stack does not have reaches nothing else (`admin_write` then names it as
    missing)."""
    state.meta.forget()
    content_types: set[str] = set()
    environments: set[str] = set()
    if code in await state.meta.locale_codes():
        chain = await state.meta.fallback_chain(code)
        for content_type in await state.meta.content_types():
            for read_in in chain:
                async for entry in state.client.entries.each(content_type.uid, locale=read_in, limit=MAX_LIMIT):
                    published = await published_environments(state, entry, (code,))
                    if (read_in == code and entry.locale in (None, code)) or published:
                        content_types.add(content_type.uid)
                        environments.update(published)
    return Targets(
        locales=(code,), content_types=tuple(sorted(content_types)), environments=tuple(sorted(environments))
    )


@locale_tools.delete("Delete a locale", read_back=READ_LOCALES)
async def delete_locale(call: WriteCall, code: CodeArg) -> AdminWriteAnswer:
    """Delete a language and every entry version in it. Always asks the user first: show the
    preview, call again with the token only if they agree."""
    await call.precheck(Targets(locales=(code,)))  # before the reach is read: a denial sends nothing
    reach = await _language_reach(call.state, code)

    async def refuse_grown_reach() -> None:
        await call.recheck_reach(reach, lambda: _language_reach(call.state, code), f"deleting locale {code!r}")

    return await LOCALE.write(call, "delete", key=code, targets=reach, before_sending=refuse_grown_reach)


# -- labels -------------------------------------------------------------------------------------


label_tools = _declared(Scope.LABELS_READ, Scope.LABELS_WRITE)


class LabelList(ReadAnswer):
    labels: list[LabelInfo]


@label_tools.read("List labels")
async def list_labels(ctx: ToolContext) -> LabelList:
    """The stack's labels: uid, name, parent labels and the content types they group."""
    return fitted(LabelList(labels=[label_info(label) for label in await _listed(ctx, client.LABELS)]))


LabelUid = Annotated[Uid, Field(description="The label's uid (list_labels).")]
ContentTypes = Annotated[list[ContentTypeUid] | None, Field(max_length=100, description="Content types it groups.")]
Parents = Annotated[list[Uid] | None, Field(max_length=10, description="Parent label uids.")]
READ_LABELS = "list_labels"


@label_tools.write("Create a label", read_back=READ_LABELS)
async def create_label(
    call: WriteCall,
    name: Name,
    content_types: ContentTypes = None,
    parent: Parents = None,
) -> AdminWriteAnswer:
    """Create a label that groups content types, optionally under parent labels."""
    fields = {"name": name, "content_types": content_types or [], "parent": parent or []}
    return await LABEL.write(call, "create", fields=fields)


@label_tools.write("Update a label", read_back=READ_LABELS)
async def update_label(
    call: WriteCall,
    uid: LabelUid,
    name: Name | None = None,
    content_types: ContentTypes = None,
    parent: Parents = None,
) -> AdminWriteAnswer:
    """Rename a label or replace its content types or parents."""
    fields = _present(name=name, content_types=content_types, parent=parent)
    return await LABEL.write(call, "update", key=uid, fields=fields)


@label_tools.delete("Delete a label", read_back=READ_LABELS)
async def delete_label(call: WriteCall, uid: LabelUid) -> AdminWriteAnswer:
    """Delete a label (its content types stay). Always asks the user first: show the preview,
    call again with the token only if they agree."""
    return await LABEL.write(call, "delete", key=uid)


# -- webhooks -----------------------------------------------------------------------------------


webhook_tools = _declared(Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE)


class WebhookList(ReadAnswer):
    webhooks: list[WebhookInfo]


@webhook_tools.read("List webhooks")
async def list_webhooks(ctx: ToolContext) -> WebhookList:
    """The stack's webhooks: channels, branches, target URLs and authentication type; passwords,
    tokens and header values are never shown."""
    return fitted(WebhookList(webhooks=[webhook_info(w) for w in await _listed(ctx, client.WEBHOOKS)]))


WebhookUid = Annotated[Uid, Field(description="The webhook's uid (list_webhooks).")]
Channels = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]],
    Field(min_length=1, max_length=50, description="Events, e.g. content_types.entries.create."),
]
Auth = Annotated[Literal["None", "Basic", "Bearer"], Field(description="How the target authenticates calls.")]
Secret = Annotated[str | None, Field(max_length=2000, description="Secret: never shown or logged.")]


class SecretHeader(ToolModel):
    """One custom header a webhook sends (the page's `custom_header` item). A list of closed
    objects rather than a free-form mapping, so that clients' strict modes accept the schema."""

    model_config = ConfigDict(extra="forbid")
    header_name: Annotated[str, Field(min_length=1, max_length=200)]
    value: Annotated[str, Field(max_length=2000, description="Secret: never shown or logged.")]


SecretHeaders = Annotated[
    list[SecretHeader] | None,
    Field(max_length=20, description="Custom headers (e.g. an API key); values never shown or logged."),
]
READ_WEBHOOKS = "list_webhooks"


def destination(
    target_url: str,
    authentication_type: str,
    basic_auth_user: str | None,
    basic_auth_password: str | None,
    bearer_token: str | None,
    secret_headers: Sequence[SecretHeader] | None,
) -> dict[str, Any]:
    """One webhook destination as the "Create a webhook" page documents its body.

    Raises:
        ToolError: the authentication type lacks its credentials.
    """
    found: dict[str, Any] = {"target_url": target_url, "authentication_type": authentication_type}
    if authentication_type == "Basic":
        if not (basic_auth_user and basic_auth_password):
            raise ToolError("Basic authentication needs basic_auth_user and basic_auth_password. Nothing was sent.")
        found.update(http_basic_auth=basic_auth_user, http_basic_password=basic_auth_password)
    elif authentication_type == "Bearer":
        if not bearer_token:
            raise ToolError("Bearer authentication needs bearer_token. Nothing was sent.")
        found["bearer_token"] = bearer_token
    found["custom_header"] = [header.model_dump() for header in secret_headers or []]
    return found


def _check_destination(call: WriteCall, target_url: str, headers: Sequence[SecretHeader] | None) -> None:
    """Refuses a target URL outside the policy's `[webhooks] destinations`, if it lists any (a
    webhook sends the stack's content there), or custom headers that route it elsewhere.

    Raises:
        ToolError: the policy does not let webhooks send to `target_url`, or with those headers
            (nothing was sent).
    """
    names = [header.header_name for header in headers or []]
    refusal = webhook_refusal(target_url, names, call.guard.policy.webhooks.destinations)
    if refusal is not None:
        raise ToolError(f"a webhook may not send to this target_url: {refusal}. Nothing was sent.")


def _webhook_targets(call: WriteCall, fires_on: Sequence[str] | None) -> Targets:
    """What a webhook write reaches: the branch it lands on and the branches the webhook fires
    on (`main` when it names none), whose content it sends to its URL. A role limited to some
    branches may not create, point elsewhere or delete a webhook for another branch's events."""
    landing = on_branch(call.ctx, call.scopes, Targets()).branches
    return Targets(branches=tuple(dict.fromkeys((*landing, *(fires_on or (DEFAULT_BRANCH,))))))


async def _stored_webhook(call: WriteCall, uid: str) -> client.Webhook | None:
    """The webhook `uid` as it is stored (None when missing), read after the guard has seen the
    branch the write lands on (a denial sends nothing)."""
    await call.precheck(Targets())
    hooks = await call.state.client.admin.list(client.WEBHOOKS)
    return next((hook for hook in hooks if hook.uid == uid), None)


def _stored_targets(call: WriteCall, found: client.Webhook | None) -> Targets:
    """`_webhook_targets` of a stored webhook. A missing webhook reaches only the branch the
    write lands on; `admin_write` then names it as missing."""
    if found is None:
        return on_branch(call.ctx, call.scopes, Targets())
    return _webhook_targets(call, found.branches)


def _check_stored_destinations(call: WriteCall, found: client.Webhook | None) -> None:
    """Refuses an update that leaves a webhook enabled while it sends outside the policy's
    `[webhooks] destinations`, or with headers that route it elsewhere (one created before the
    policy listed them, or by someone else): enabling it or widening its events would send more
    of the stack there.

    Raises:
        ToolError: the stored webhook sends outside the destinations, or with such a header
            (nothing was sent).
    """
    allowed = call.guard.policy.webhooks.destinations
    for stored in found.destinations if found is not None else []:
        refusal = webhook_refusal(stored.target_url, stored.header_names, allowed)
        if refusal is not None:
            raise ToolError(
                f"this webhook sends to {stored.target_url!r}: {refusal}. Give a target_url inside them,"
                " or disabled=true. Nothing was sent."
            )


# The arguments that carry a webhook's secrets: kept out of error answers, audit lines and what a
# confirmation token shows, as a project variable's value is.
WEBHOOK_SECRET_ARGUMENTS = ("basic_auth_password", "bearer_token", "secret_headers")


@webhook_tools.write("Create a webhook", read_back=READ_WEBHOOKS, secret_arguments=WEBHOOK_SECRET_ARGUMENTS)
async def create_webhook(
    call: WriteCall,
    name: Name,
    target_url: Url,
    channels: Channels,
    authentication_type: Auth = "None",
    basic_auth_user: Annotated[str | None, Field(max_length=200)] = None,
    basic_auth_password: Secret = None,
    bearer_token: Secret = None,
    secret_headers: SecretHeaders = None,
    branches: Annotated[list[Uid] | None, Field(max_length=20, description="Default: main.")] = None,
    disabled: bool = False,
) -> AdminWriteAnswer:
    """Create a webhook that posts the chosen events to a URL."""
    _check_destination(call, target_url, secret_headers)
    target = destination(
        target_url, authentication_type, basic_auth_user, basic_auth_password, bearer_token, secret_headers
    )
    fields = _present(name=name, destinations=[target], channels=channels, branches=branches, disabled=disabled)
    return await WEBHOOK.write(call, "create", fields=fields, targets=_webhook_targets(call, branches))


@webhook_tools.write("Update a webhook", read_back=READ_WEBHOOKS, secret_arguments=WEBHOOK_SECRET_ARGUMENTS)
async def update_webhook(
    call: WriteCall,
    uid: WebhookUid,
    name: Name | None = None,
    channels: Channels | None = None,
    disabled: bool | None = None,
    target_url: Annotated[Url | None, Field(description="A new destination (with its authentication).")] = None,
    authentication_type: Auth = "None",
    basic_auth_user: Annotated[str | None, Field(max_length=200)] = None,
    basic_auth_password: Secret = None,
    bearer_token: Secret = None,
    secret_headers: SecretHeaders = None,
) -> AdminWriteAnswer:
    """Rename, enable or disable a webhook, change its events, or replace its destination."""
    fields = _present(name=name, channels=channels, disabled=disabled)
    if target_url is not None:
        _check_destination(call, target_url, secret_headers)
        fields["destinations"] = [
            destination(
                target_url, authentication_type, basic_auth_user, basic_auth_password, bearer_token, secret_headers
            )
        ]
    if not fields:
        raise ToolError("nothing to change: give name, channels, disabled or target_url. Nothing was sent.")
    found = await _stored_webhook(call, uid)
    if target_url is None and disabled is not True:
        _check_stored_destinations(call, found)
    return await WEBHOOK.write(call, "update", key=uid, fields=fields, targets=_stored_targets(call, found))


@webhook_tools.delete("Delete a webhook", read_back=READ_WEBHOOKS)
async def delete_webhook(call: WriteCall, uid: WebhookUid) -> AdminWriteAnswer:
    """Delete a webhook. Always asks the user first: show the preview, call again with the token
    only if they agree."""
    found = await _stored_webhook(call, uid)
    return await WEBHOOK.write(call, "delete", key=uid, targets=_stored_targets(call, found))


# -- delivery tokens and roles (read only) --------------------------------------------------------


class DeliveryTokenList(ReadAnswer):
    delivery_tokens: list[DeliveryTokenInfo]


@declare.read("List delivery tokens", scopes={Scope.STACKS_READ})
async def list_delivery_tokens(ctx: ToolContext) -> DeliveryTokenList:
    """The stack's delivery tokens: name and the environments each reads. The token values are
    never shown."""
    tokens: list[client.DeliveryToken] = await _listed(ctx, client.DELIVERY_TOKENS)
    return fitted(DeliveryTokenList(delivery_tokens=[DeliveryTokenInfo(**t.model_dump()) for t in tokens]))


class RoleList(ReadAnswer):
    roles: list[RoleInfo]


@declare.read("List roles", scopes={Scope.ROLES_READ})
async def list_roles(ctx: ToolContext) -> RoleList:
    """The stack's user roles: name, description and how many users hold each."""
    roles: list[client.StackRole] = await _listed(ctx, client.ROLES)
    return fitted(
        RoleList(roles=[RoleInfo(uid=r.uid, name=r.name, description=r.description, users=len(r.users)) for r in roles])
    )
