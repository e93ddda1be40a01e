"""One example of valid arguments for every tool, shared by the tests that call every tool
(secrets, faults, fuzz) or name them (prompts). A new tool adds its line here, and
`tests/test_examples.py` fails until it does."""

from __future__ import annotations

from typing import Any

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
    "get_asset": {"uid": "blt0a"},
    "list_asset_folders": {},
    "get_asset_references": {"uid": "blt0a"},
    "upload_asset": {"content_base64": "aGVsbG8=", "filename": "a.png"},
    "replace_asset": {"uid": "blt0a", "content_base64": "aGVsbG8=", "filename": "a.png"},
    "update_asset": {"uid": "blt0a", "title": "t"},
    "delete_asset": {"uid": "blt0a"},
    "create_asset_folder": {"name": "f"},
    "create_content_type": {
        "uid": "faq",
        "title": "FAQ",
        "schema": [{"uid": "title", "display_name": "Title", "data_type": "text"}],
    },
    "update_content_type": {"content_type": "blog_post", "title": "t"},
    "delete_content_type": {"content_type": "blog_post"},
}
