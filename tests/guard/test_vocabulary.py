"""The guard's vocabulary has one source: every constraint kind of the table is parsed from the
policy, enforced by the check (on names and on items), carried into permits and shown by
describe_stack. A constraint added to the table and missed anywhere fails here."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from cs_mcp.guard import ItemTarget, PolicyError, Principal, Targets, parse_policy
from cs_mcp.guard.check import Guard
from cs_mcp.guard.loader import ROLE_KEYS
from cs_mcp.guard.policy import Role, RoleSpec
from cs_mcp.guard.scopes import ALL_SCOPES, CONSTRAINTS, Constraint, Scope
from cs_mcp.tools.stack import PermissionInfo, permission_info
from tests.guard._declared import Declared

IDS = [c.role_field for c in CONSTRAINTS]


def limited(constraint: Constraint) -> tuple[Guard, Declared]:
    """A guard whose role `limited` holds one scope the constraint limits, limited to `inside`."""
    scope = sorted(constraint.scopes)[0]
    policy = parse_policy(f'[roles.limited]\nscopes = ["{scope}"]\n{constraint.role_field} = ["inside"]\n')
    return Guard(policy), Declared("probe", frozenset({scope}))


def targets_naming(constraint: Constraint, name: str) -> Targets:
    return replace(Targets(), **{constraint.target_field: (name,)})


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=IDS)
def test_a_constraint_of_the_table_denies_a_name_outside_it_and_allows_one_inside(constraint: Constraint) -> None:
    guard, tool = limited(constraint)
    principal = Principal(name="p", role="limited")
    outside = guard.check(principal, tool, targets_naming(constraint, "outside"))
    inside = guard.check(principal, tool, targets_naming(constraint, "inside"))
    assert outside.decision == "deny"
    assert outside.rule == f"roles.limited.{constraint.role_field}"
    assert outside.offending == ("outside",)
    assert inside.decision == "allow"


@pytest.mark.parametrize("constraint", [c for c in CONSTRAINTS if c.item_field], ids=lambda c: c.role_field)
def test_a_constraint_with_an_item_field_checks_every_item_on_its_own(constraint: Constraint) -> None:
    assert constraint.item_field is not None
    guard, tool = limited(constraint)
    items = (
        ItemTarget("good", **{constraint.item_field: "inside"}),
        ItemTarget("bad", **{constraint.item_field: "outside"}),
    )
    verdict = guard.check(Principal(name="p", role="limited"), tool, Targets(items=items))
    assert verdict.decision == "deny"
    assert verdict.offending == (f"bad ({constraint.word} outside)",)


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=IDS)
def test_a_permit_carries_the_names_of_every_constraint_of_the_table(constraint: Constraint) -> None:
    guard, tool = limited(constraint)
    verdict = guard.check(Principal(name="p", role="limited"), tool, targets_naming(constraint, "inside"))
    permit = guard.permit(verdict, "probe.write")
    guard.permits.verify(permit, "probe.write", {constraint.permit_key: ["inside"]})


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=IDS)
def test_a_constraint_on_a_role_without_any_scope_it_limits_is_refused_at_load(constraint: Constraint) -> None:
    unrelated = sorted(ALL_SCOPES - constraint.scopes - {s for s in ALL_SCOPES if not s.endswith(":read")})[0]
    with pytest.raises(PolicyError, match=constraint.role_field):
        parse_policy(f'[roles.limited]\nscopes = ["{unrelated}"]\n{constraint.role_field} = ["inside"]\n')


@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=IDS)
def test_describe_stack_shows_every_constraint_of_the_table(constraint: Constraint) -> None:
    role = Role(name="limited", scopes=frozenset({Scope.ENTRY_WRITE}), **{constraint.role_field: frozenset({"inside"})})
    shown = permission_info("p", role, [], [])
    assert getattr(shown, constraint.role_field) == ["inside"]


def test_every_place_that_names_constraints_names_exactly_the_tables() -> None:
    table = {c.role_field for c in CONSTRAINTS}
    assert set(ROLE_KEYS) - {"inherits", "scopes"} == table
    assert set(RoleSpec.model_fields) - {"inherits", "scopes"} == table
    assert set(Role.model_fields) - {"name", "scopes"} == table
    assert table <= set(PermissionInfo.model_fields)
    assert {c.target_field for c in CONSTRAINTS} == {f.name for f in fields(Targets)} - {"releases", "items"}
    assert {c.item_field for c in CONSTRAINTS if c.item_field} == {f.name for f in fields(ItemTarget)} - {"label"}
    assert {c.permit_key for c in CONSTRAINTS} == set(Targets().permit_targets()) - {"release"}
    assert all(c.scopes and c.scopes <= ALL_SCOPES for c in CONSTRAINTS)
