"""The MCP Apps views in a real browser, fed with tool results from the sandbox.

Each test runs a tool through the server against the sandbox over loopback, reads the view the
tool names in `_meta.ui.resourceUri` as a host would (`resources/read`), and loads it in
tests/views/host.html, which plays the host's side of the protocol in headless Chromium. The
tests check what is drawn (charts and their marks, figures, table rows), that the view spoke
the protocol (initialize, initialized, size changes) and loaded nothing from the network, and
save screenshots.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextResourceContents
from playwright.async_api import Browser, ConsoleMessage, Frame, Page, Request

from cs_mcp.config import Settings
from cs_mcp.guard import Guard, Policy, builtin_policy
from cs_mcp.guard.policy import BUILTIN_ROLE_SPECS, ConfirmSpec, resolve_roles
from cs_mcp.sandbox.runner import RunningSandbox, running_sandbox
from cs_mcp.sandbox.state import SandboxConfig
from cs_mcp.server import build_server
from cs_mcp.views import MIME_TYPE
from tests.helpers import UNPACED, structured, text_of
from tests.views.conftest import keep_screenshot

pytestmark = pytest.mark.anyio

HOST_PAGE = Path(__file__).resolve().parent / "host.html"
# What a host might hand a view: a theme and a locale (numbers below are formatted for it).
LIGHT = {"theme": "light", "locale": "en-US", "displayMode": "inline", "containerDimensions": {"maxHeight": 4000}}


@pytest.fixture
async def sandbox() -> AsyncGenerator[RunningSandbox]:
    # Analytics jobs answer at once, so no test waits on a poll.
    async with running_sandbox(SandboxConfig(rate_limits=False, analytics_active_polls=0)) as running:
        yield running


def connect(sandbox: RunningSandbox, guard: Guard | None = None) -> Client:
    server = build_server(
        Settings.from_env(sandbox.env()),
        backend="sandbox",
        guard=guard or Guard(builtin_policy()),
        stdio_role="admin",
        rate_limits=UNPACED,
    )
    return Client(server)


def as_host_sends(result: CallToolResult) -> dict[str, Any]:
    """A tool result as JSON, the way a host passes it on in ui/notifications/tool-result."""
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def view_of(client: Client, tool: str) -> str:
    """The HTML of the view `tool` names, read as a host reads it."""
    listed = {t.name: t for t in (await client.list_tools()).tools}
    meta = listed[tool].meta or {}
    uri = cast(dict[str, Any], meta["ui"])["resourceUri"]
    contents = (await client.read_resource(uri)).contents
    assert len(contents) == 1
    content = contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == MIME_TYPE
    assert content.meta is not None
    assert content.meta["ui"]["csp"]["connectDomains"] == []
    return content.text


@dataclass
class Shown:
    """A view loaded in the test host."""

    page: Page
    frame: Frame
    network: list[str]
    console_errors: list[str]

    async def protocol(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], await self.page.evaluate("host.log"))

    async def screenshot(self, path: Path) -> None:
        await self.page.locator("iframe").screenshot(path=str(path))
        keep_screenshot(path)


async def show(
    browser: Browser,
    client: Client,
    tool: str,
    tool_input: dict[str, Any],
    *,
    calls_tools: bool = False,
    context: dict[str, Any] | None = None,
) -> tuple[Shown, dict[str, Any]]:
    """Runs `tool` through the server, reads the view it names and loads it in the host page
    with the input and the result; also answers the result's structured content. With
    `calls_tools` the view may call tools: the host passes them to the real server."""
    html = await view_of(client, tool)
    result = await client.call_tool(tool, tool_input)
    page = await browser.new_page(viewport={"width": 800, "height": 900}, device_scale_factor=1)
    network: list[str] = []
    console_errors: list[str] = []

    def on_request(request: Request) -> None:
        if not request.url.startswith(("file:", "about:", "data:")):
            network.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    if calls_tools:

        async def call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
            return as_host_sends(await client.call_tool(name, arguments))

        # playwright types the callback loosely; this one is fully typed.
        await page.expose_function("hostCallTool", call_tool)  # pyright: ignore[reportUnknownMemberType]
    await page.goto(HOST_PAGE.as_uri())
    call = {
        "toolInput": tool_input,
        "toolResult": as_host_sends(result),
        "hostContext": context or LIGHT,
        "canCallTools": calls_tools,
    }
    await page.evaluate("([html, call]) => host.load(html, call)", [html, call])
    frame = await (await page.locator("iframe").element_handle(timeout=5_000)).content_frame()
    assert frame is not None
    answer = cast(dict[str, Any], result.structured_content or {})
    return Shown(page, frame, network, console_errors), answer


def method_log(log: list[dict[str, Any]], source: str) -> list[str]:
    return [str(m["message"].get("method")) for m in log if m["from"] == source and "method" in m["message"]]


async def assert_spoke_the_protocol(shown: Shown) -> None:
    log = await shown.protocol()
    sent = method_log(log, "view")
    assert sent[:2] == ["ui/initialize", "ui/notifications/initialized"]
    init = next(m["message"] for m in log if m["message"].get("method") == "ui/initialize")
    assert init["params"]["protocolVersion"] == "2026-01-26"
    # The view reports its drawn size (the last report may still be on its way).
    await shown.page.wait_for_function("host.sizes.length && host.sizes[host.sizes.length - 1].height > 100")
    # Nothing but the host page itself was loaded, and the page's policy refused nothing.
    assert shown.network == []
    assert shown.console_errors == []


async def painted_pixels(frame: Frame) -> list[int]:
    """Per chart canvas, how many pixels are painted (not transparent)."""
    return cast(
        list[int],
        await frame.evaluate(
            """() => [...document.querySelectorAll('.chart canvas')].map((c) => {
                const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
                return n;
            })"""
        ),
    )


def last_days(n: int) -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=n)).isoformat(), (today - timedelta(days=1)).isoformat()


def over_last_days(report: str, n: int) -> dict[str, Any]:
    """`get_analytics` arguments for `report` over the `n` days before today."""
    first, last = last_days(n)
    return {"report": report, "from_date": first, "to_date": last}


async def test_the_analytics_view_charts_a_sandbox_usage_report_with_its_figures(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    arguments = over_last_days("usage", 30)
    async with connect(sandbox) as client:
        shown, report = await show(browser, client, "get_analytics", arguments)
        charts = shown.frame.locator(".chart")
        await charts.nth(1).locator("canvas").wait_for(timeout=10_000)

        assert await charts.count() == 2
        assert [await charts.nth(i).get_attribute("data-chart") for i in range(2)] == ["Requests", "Bandwidth"]
        for i in range(2):
            assert await charts.nth(i).get_attribute("data-series") == "2"  # API and CDN
            assert await charts.nth(i).get_attribute("data-points") == str(report["total_rows"])
            assert await charts.nth(i).get_attribute("data-marks") == str(2 * report["total_rows"])
        assert all(n > 2_000 for n in await painted_pixels(shown.frame))
        totals = report["totals"]
        requests = totals["total_api_count"] + totals["total_cdn_count"]
        assert await shown.frame.locator('[data-figure="requests"] .value').inner_text() == f"{requests:,}"
        busiest = report["summary"]["top_periods"][0]["key"]
        assert await shown.frame.locator('[data-figure="busiest"] .value').inner_text() == busiest
        lines = shown.frame.locator("ul.lines li")
        assert await lines.all_inner_texts() == report["summary"]["lines"]
        await assert_spoke_the_protocol(shown)
        await shown.screenshot(tmp_path / "analytics-usage-light.png")


async def test_the_analytics_view_switches_to_status_codes_stacked_by_class_and_top_urls_through_the_host(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    arguments = over_last_days("cache", 14)
    async with connect(sandbox) as client:
        shown, cache = await show(browser, client, "get_analytics", arguments, calls_tools=True)
        frame = shown.frame
        await frame.locator(".chart canvas").first.wait_for(timeout=10_000)
        assert await frame.locator(".chart").first.get_attribute("data-chart") == "Cache hit ratio"
        share = cache["summary"]["cache_hit_share"]
        assert await frame.locator('[data-figure="cache-hit"] .value').inner_text() == as_intl_percent(share, 1)

        # A report the result does not hold is read through the host, from the real server.
        await frame.locator('button[data-report="status_codes"]').click()
        stacked = frame.locator('.chart[data-chart^="Responses by status class"]')
        await stacked.locator("canvas").wait_for(timeout=10_000)
        assert await stacked.get_attribute("data-series") == "4"  # 2xx, 3xx, 4xx, 5xx
        legend = await stacked.locator(".u-legend .u-series .u-label").all_inner_texts()
        assert sorted(legend[1:]) == ["2xx", "3xx", "4xx", "5xx"]
        assert await frame.locator('[data-figure="errors"]').count() == 1
        await shown.screenshot(tmp_path / "analytics-status-codes-light.png")

        await frame.locator('button[data-report="top_urls"]').click()
        table = frame.locator('section[data-table="Top URLs"] tbody tr')
        await table.first.wait_for(timeout=10_000)
        urls = structured(await client.call_tool("get_analytics", {**arguments, "report": "top_urls"}))
        distinct = {row["url"] for row in urls["rows"]}
        assert await table.count() == len(distinct)
        top = urls["summary"]["top_values"]["top_urls"][0]
        assert await table.first.locator("td").nth(1).inner_text() == top["key"]

        # Back to a report the view already holds: no new call.
        calls = method_log(await shown.protocol(), "view").count("tools/call")
        await frame.locator('button[data-report="cache"]').click()
        await frame.locator('[data-figure="cache-hit"]').wait_for(timeout=5_000)
        assert method_log(await shown.protocol(), "view").count("tools/call") == calls == 2

        # The host turns dark: the view follows its theme.
        await shown.page.evaluate("host.setTheme('dark')")
        await frame.locator(':root[data-theme="dark"]').wait_for(state="attached", timeout=5_000)
        background = await frame.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(27, 27, 29)"
        await shown.screenshot(tmp_path / "analytics-cache-dark.png")
        await assert_spoke_the_protocol(shown)


def as_intl_percent(share: float, digits: int) -> str:
    """A share as the view's `Intl.NumberFormat` percent shows it in English. ICU formats a
    double from its shortest decimal form (`repr`), times 100, rounded half away from zero;
    Python's `{:.1%}` rounds the binary value half to even, so 0.9035 gives 90.4% there and
    90.3% here."""
    exact = Decimal(repr(share)) * 100
    return f"{exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)}%"


async def release_named(client: Client, name: str) -> dict[str, Any]:
    releases = structured(await client.call_tool("list_releases", {}))["releases"]
    return next(r for r in releases if r["name"] == name)


async def make_stale(client: Client, item: dict[str, Any]) -> None:
    """Saves a new version of a release item's entry, so the release holds an older one."""
    entry = structured(await client.call_tool("get_entry", {"content_type": item["content_type"], "uid": item["uid"]}))[
        "entry"
    ]
    changed = await client.call_tool(
        "update_entry",
        {
            "content_type": item["content_type"],
            "uid": item["uid"],
            "fields": {"title": f"{entry['title']} (revised)"},
            "expected_version": entry["_version"],
        },
    )
    assert structured(changed)["written"]


async def release_with_a_stale_item(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """The seeded "Spring campaign" release, after its first entry moved on; and that item."""
    release = await release_named(client, "Spring campaign")
    detail = structured(await client.call_tool("get_release", {"release_uid": release["uid"]}))
    item = next(i for i in detail["items"] if i["type"] == "entry")
    await make_stale(client, item)
    return release, item


async def test_the_release_view_groups_items_by_content_type_and_locale_and_marks_the_stale_one(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    async with connect(sandbox) as client:
        release, stale_item = await release_with_a_stale_item(client)
        arguments = {"release_uid": release["uid"]}
        shown, detail = await show(browser, client, "get_release", arguments)
        frame = shown.frame
        await frame.locator("section[data-group]").first.wait_for(timeout=10_000)

        items = detail["items"]
        groups = {"Assets" if i["type"] == "asset" else i["content_type"] for i in items}
        names = await frame.locator("section[data-group]").evaluate_all("s => s.map(e => e.dataset.group)")
        assert sorted(names) == sorted(groups)
        assert names[-1] == "Assets"  # assets after the content types
        assert await frame.locator("tr[data-item]").count() == len(items)
        stale_rows = frame.locator("tr.stale")
        assert await stale_rows.count() == 1
        assert await stale_rows.get_attribute("data-item") == stale_item["uid"]
        latest = next(i for i in items if i["uid"] == stale_item["uid"])["latest_version"]
        assert f"latest v{latest}" in await stale_rows.inner_text()
        assert await frame.locator('[data-figure="stale"] .value').inner_text() == "1"
        assert await frame.locator('[data-line="stale"]').count() == 1
        publish_line = await frame.locator('[data-line="action-publish"]').inner_text()
        entries = sum(1 for i in items if i["type"] == "entry")
        assert publish_line.startswith(f"Publish {entries} entries and 1 asset")
        await assert_spoke_the_protocol(shown)
        await shown.screenshot(tmp_path / "release-light.png")


def production_needs_confirmation() -> Guard:
    roles = resolve_roles(dict(BUILTIN_ROLE_SPECS))
    return Guard(Policy(roles=roles, confirm=ConfirmSpec(environments=["production"], fallback="token")))


async def test_the_write_preview_shows_a_publish_waiting_for_confirmation_and_goes_ahead_when_the_human_agrees(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    async with connect(sandbox, production_needs_confirmation()) as client:
        release = await release_named(client, "Spring campaign")
        detail = structured(await client.call_tool("get_release", {"release_uid": release["uid"]}))
        entries = [i for i in detail["items"] if i["type"] == "entry"][:2]
        arguments: dict[str, Any] = {
            "items": [{"type": "entry", "content_type": i["content_type"], "uid": i["uid"]} for i in entries],
            "environments": ["production"],
            "locales": ["en-us"],
        }
        tool = {"tool": {"name": "publish", "inputSchema": {"type": "object"}}}
        context = {**LIGHT, "toolInfo": tool}
        shown, answer = await show(browser, client, "publish", arguments, calls_tools=True, context=context)
        assert answer["confirmation"] is not None
        assert not answer["written"]
        frame = shown.frame
        await frame.locator('[data-state="confirm"]').wait_for(timeout=10_000)

        assert await frame.locator("h1").inner_text() == answer["plan"]["summary"]
        chips = frame.locator('tr[data-target="environment"] .chip')
        assert await chips.all_inner_texts() == ["production"]
        assert await frame.locator('tr[data-target="locale"] .chip').all_inner_texts() == ["en-us"]
        assert await frame.locator("section[data-items] li").count() == len(answer["plan"]["items"])
        assert await frame.locator("tr[data-request]").count() == len(answer["plan"]["requests"])
        assert await frame.locator("[data-verdict]").get_attribute("data-verdict") == "confirm"
        assert await frame.locator("pre.preview").inner_text() == answer["confirmation"]["preview"]
        await assert_spoke_the_protocol(shown)
        await shown.screenshot(tmp_path / "publish-confirmation-light.png")

        # The human agrees in the view: the host runs the same call with the token.
        await frame.locator("button#confirm").click()
        await frame.locator('[data-state="done"], [data-state="partly"]').wait_for(timeout=15_000)
        calls = [m["message"] for m in await shown.protocol() if m["message"].get("method") == "tools/call"]
        assert len(calls) == 1
        sent = calls[0]["params"]
        assert sent["name"] == "publish"
        assert sent["arguments"] == {**arguments, "confirmation_token": answer["confirmation"]["confirmation_token"]}
        assert await frame.locator("[data-verdict]").get_attribute("data-verdict") == "confirmed"
        await shown.screenshot(tmp_path / "publish-done-light.png")


async def test_the_write_preview_shows_a_deploy_dry_run_with_its_preflight(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    async with connect(sandbox) as client:
        release, _ = await release_with_a_stale_item(client)
        arguments = {"release_uid": release["uid"], "environments": ["staging"], "dry_run": True}
        # A host that sends its own style variables: the view takes them over its defaults.
        styles = {"variables": {"--color-text-primary": "rgb(250, 240, 200)"}}
        context = {**LIGHT, "theme": "dark", "styles": styles}
        shown, answer = await show(browser, client, "deploy_release", arguments, context=context)
        frame = shown.frame
        await frame.locator("[data-preflight]").wait_for(timeout=10_000)

        assert await frame.locator('[data-state="dry-run"]').count() == 1
        checks = answer["preflight"]["checks"]
        assert await frame.locator("[data-check]").count() == len(checks)
        failed = sum(1 for c in checks if not c["ok"])
        assert await frame.locator('[data-check="failed"]').count() == failed >= 1
        assert await frame.locator("tr[data-stale]").count() == len(answer["preflight"]["stale_items"]) == 1
        missing = answer["preflight"]["missing_references"]
        assert await frame.locator("tr[data-missing]").count() == len(missing)
        assert await frame.locator('tr[data-target="environment"] .chip').all_inner_texts() == ["staging"]
        assert await frame.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(250, 240, 200)"
        await assert_spoke_the_protocol(shown)
        await shown.screenshot(tmp_path / "deploy-dry-run-dark.png")


async def test_a_destructive_delete_is_marked_in_the_preview(
    sandbox: RunningSandbox, browser: Browser, tmp_path: Path
) -> None:
    async with connect(sandbox) as client:
        release = await release_named(client, "Holiday sale")
        arguments = {"release_uid": release["uid"], "dry_run": True}
        # The host caps the frame's height: the view never asks for more.
        context = {**LIGHT, "containerDimensions": {"maxHeight": 240}}
        shown, _ = await show(browser, client, "delete_release", arguments, context=context)
        await shown.frame.locator('[data-state="dry-run"]').wait_for(timeout=10_000)
        assert await shown.frame.locator("h1 .badge.danger").inner_text() == "removes content"
        await assert_spoke_the_protocol(shown)
        await shown.page.wait_for_function("host.sizes.some((size) => size.height === 240)")
        sizes = cast(list[dict[str, int]], await shown.page.evaluate("host.sizes"))
        assert max(size["height"] for size in sizes) == 240
        await shown.screenshot(tmp_path / "delete-release-light.png")


async def test_a_tool_error_is_shown_in_plain_words_and_nothing_is_drawn(
    sandbox: RunningSandbox, browser: Browser
) -> None:
    first, last = last_days(3)
    arguments = {"report": "usage", "from_date": last, "to_date": first}  # the wrong way round
    async with connect(sandbox) as client:
        shown, _ = await show(browser, client, "get_analytics", arguments)
        notice = shown.frame.locator(".notice.danger")
        await notice.wait_for(timeout=10_000)
        failed = await client.call_tool("get_analytics", arguments)
        assert failed.is_error
        assert await notice.inner_text() == text_of(failed)
        assert await shown.frame.locator(".chart").count() == 0
        await assert_spoke_the_protocol(shown)


async def test_a_job_read_directly_is_charted_as_the_report_its_rows_come_from(
    sandbox: RunningSandbox, browser: Browser
) -> None:
    async with connect(sandbox) as client:
        report = structured(await client.call_tool("get_analytics", over_last_days("sdk", 10)))
        shown, job = await show(browser, client, "get_analytics_job", {"job_id": report["job_ids"][0]})
        chart = shown.frame.locator('.chart[data-chart="Requests by SDK (top 5)"]')
        await chart.locator("canvas").wait_for(timeout=10_000)
        assert await chart.get_attribute("data-series") == "5"
        rows = shown.frame.locator('section[data-table="SDKs"] tbody tr')
        assert await rows.count() == len({row["sdk"] for row in job["rows"] if "sdk" in row})
        assert await shown.frame.locator("h1").inner_text() == "Analytics: SDKs"
        await assert_spoke_the_protocol(shown)


async def test_markup_in_text_from_the_stack_is_shown_as_text(sandbox: RunningSandbox, browser: Browser) -> None:
    markup = 'Sale <img src="https://example.invalid/x.png" onerror="parent.postMessage(1, \'*\')"><b>now</b>'
    async with connect(sandbox) as client:
        release = await release_named(client, "Holiday sale")
        changed = await client.call_tool("update_release", {"release_uid": release["uid"], "description": markup})
        assert structured(changed)["release"]["description"] == markup  # the stack keeps it as it is
        shown, _ = await show(browser, client, "get_release", {"release_uid": release["uid"]})
        description = shown.frame.locator("main > p").first
        await description.wait_for(timeout=10_000)
        assert await description.text_content() == markup
        assert await shown.frame.locator("img, b").count() == 0
        await assert_spoke_the_protocol(shown)  # and nothing was loaded
