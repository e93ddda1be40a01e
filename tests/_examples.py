"""One example of valid arguments for every tool, shared by the tests that call every tool
(secrets, faults, fuzz, the response budget, the write pipeline) or name them (prompts). A new
tool adds its line here, and `tests/test_examples.py` fails until it does."""

from __future__ import annotations

from typing import Any

# The asset the asset tools' examples name; a test running them on the sandbox puts a seeded
# asset's uid in its place.
ASSET = "blt0a"
ITEM = {"type": "entry", "content_type": "blog_post", "uid": "blt01", "version": 1, "locale": "en-us"}

# Arguments that pass validation for every tool, so that each one reaches the stack.
EXAMPLES: dict[str, dict[str, Any]] = {
    "describe_stack": {},
    "get_content_type": {"content_type": "blog_post"},
    "query_entries": {"content_type": "blog_post", "query": {"title": {"$regex": "a"}}},
    "get_entry": {"content_type": "blog_post", "uid": "blt01"},
    "query_assets": {},
    "create_entry": {"content_type": "blog_post", "fields": {"title": "t"}},
    "update_entry": {"content_type": "blog_post", "uid": "blt01", "fields": {"title": "t"}, "expected_version": 1},
    "delete_entry": {"content_type": "blog_post", "uid": "blt01"},
    "publish": {"items": [ITEM], "environments": ["development"]},
    "unpublish": {"items": [ITEM], "environments": ["development"]},
    "list_publish_queue": {},
    "cancel_scheduled_publish": {"queue_uid": "blt0q"},
    "list_releases": {},
    "get_release": {"release_uid": "blt0r"},
    "create_release": {"name": "r", "items": [ITEM]},
    "update_release": {"release_uid": "blt0r", "locked": True},
    "add_release_items": {"release_uid": "blt0r", "items": [ITEM]},
    "remove_release_items": {"release_uid": "blt0r", "all": True},
    "deploy_release": {"release_uid": "blt0r", "environments": ["development"]},
    "clone_release": {"release_uid": "blt0r", "name": "copy"},
    "delete_release": {"release_uid": "blt0r"},
    "get_analytics": {"report": "usage", "from_date": "2025-01-01", "to_date": "2025-01-31"},
    "get_analytics_job": {"job_id": "job1"},
    "list_automation_projects": {},
    "list_automations": {"project_id": "p1"},
    "get_automation": {"project_id": "p1", "automation_id": "a1"},
    "list_automation_executions": {"project_id": "p1"},
    "get_automation_execution": {"project_id": "p1", "execution_id": "e1"},
    "list_automation_audit_logs": {"project_id": "p1"},
    "set_automation_active": {"project_id": "p1", "automation_id": "a1", "active": True},
    "get_entry_references": {"content_type": "blog_post", "uid": "blt01"},
    "get_entry_locales": {"content_type": "blog_post", "uid": "blt01"},
    "localize_entry": {"content_type": "blog_post", "uid": "blt01", "locale": "fr-fr", "fields": {"title": "t"}},
    "unlocalize_entry": {"content_type": "blog_post", "uid": "blt01", "locale": "fr-fr"},
    "get_automation_project": {"project_id": "p1"},
    "create_automation_project": {"title": "p"},
    "update_automation_project": {"project_id": "p1", "title": "p"},
    "delete_automation_project": {"project_id": "p1"},
    "list_project_variables": {"project_id": "p1"},
    "create_project_variable": {"project_id": "p1", "key": "K", "value": "v", "type": "password"},
    "update_project_variable": {"project_id": "p1", "variable_id": "v1", "value": "v"},
    "delete_project_variable": {"project_id": "p1", "variable_id": "v1"},
    "list_automation_accounts": {"project_id": "p1"},
    "get_automation_account": {"project_id": "p1", "account_id": "a1"},
    "get_automation_audit_log": {"project_id": "p1", "log_id": "l1"},
    "get_asset": {"uid": ASSET},
    "list_asset_folders": {},
    "get_asset_references": {"uid": ASSET},
    "upload_asset": {"content_base64": "aGVsbG8=", "filename": "a.png"},
    "replace_asset": {"uid": ASSET, "content_base64": "aGVsbG8=", "filename": "a.png"},
    "update_asset": {"uid": ASSET, "title": "t"},
    "delete_asset": {"uid": ASSET},
    "create_asset_folder": {"name": "f"},
    "create_content_type": {
        "uid": "faq",
        "title": "FAQ",
        "schema": [{"uid": "title", "display_name": "Title", "data_type": "text"}],
    },
    "update_content_type": {"content_type": "blog_post", "title": "t"},
    "delete_content_type": {"content_type": "blog_post"},
    "list_environments": {},
    "create_environment": {"name": "secrets", "urls": [{"locale": "en-us", "url": "https://s.example.com/"}]},
    "update_environment": {"name": "secrets", "new_name": "secrets-2"},
    "delete_environment": {"name": "secrets-2"},
    "list_locales": {},
    "add_locale": {"code": "de-de", "name": "German"},
    "update_locale": {"code": "de-de", "fallback_locale": "fr-fr"},
    "delete_locale": {"code": "de-de"},
    "list_labels": {},
    "create_label": {"name": "Secrets", "content_types": ["author"]},
    "update_label": {"uid": "blt0l", "name": "Secrets"},
    "delete_label": {"uid": "blt0l"},
    "list_webhooks": {},
    "create_webhook": {
        "name": "Secrets",
        "target_url": "https://hook.example.com/",
        "channels": ["assets.create"],
        "authentication_type": "Bearer",
        "bearer_token": "cs4b1c9d8e7f60a5b4c3d2e1f0a9b8c7d6",
    },
    "update_webhook": {"uid": "cs0w", "disabled": True},
    "delete_webhook": {"uid": "cs0w"},
    "list_delivery_tokens": {},
    "list_roles": {},
}


def author_examples(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The entry tools' arguments for `entry`, an author that exists (on the sandbox, say), and a
    new author to create."""
    on = {"content_type": "author", "uid": entry["uid"]}
    return {
        "get_entry": on,
        "create_entry": {"content_type": "author", "fields": {"title": "Sam Example"}},
        "update_entry": on | {"fields": {"title": "Sam Example II"}, "expected_version": entry["_version"]},
        "delete_entry": on,
        "get_entry_references": on,
        "get_entry_locales": on,
        "localize_entry": on | {"locale": "fr-fr"},
        "unlocalize_entry": on | {"locale": "fr-fr"},
    }
