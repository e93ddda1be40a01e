"""The permission guard: policy, principals, the check, permits, confirmation and audit."""

from cs_mcp.guard.check import Guard, Verdict
from cs_mcp.guard.permit import Permit, PermitAuthority, PermitError
from cs_mcp.guard.policy import Policy, Role, builtin_policy
from cs_mcp.guard.principal import Principal
from cs_mcp.guard.targets import ItemTarget, Targets

__all__ = [
    "Guard",
    "ItemTarget",
    "Permit",
    "PermitAuthority",
    "PermitError",
    "Policy",
    "Principal",
    "Role",
    "Targets",
    "Verdict",
    "builtin_policy",
]
