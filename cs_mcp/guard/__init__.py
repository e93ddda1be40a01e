"""The permission guard: policy, principals, the check, permits, confirmation and audit."""

from cs_mcp.guard.audit import AuditLog, AuditRecord, read_audit
from cs_mcp.guard.check import Guard, Verdict
from cs_mcp.guard.confirm import ConfirmationAuthority, ConfirmationError
from cs_mcp.guard.loader import PolicyError, guard_from_settings, load_policy, parse_policy
from cs_mcp.guard.permit import Permit, PermitAuthority, PermitError
from cs_mcp.guard.policy import Policy, Role, builtin_policy
from cs_mcp.guard.principal import Principal
from cs_mcp.guard.targets import ItemTarget, Targets

__all__ = [
    "AuditLog",
    "AuditRecord",
    "ConfirmationAuthority",
    "ConfirmationError",
    "Guard",
    "ItemTarget",
    "Permit",
    "PermitAuthority",
    "PermitError",
    "Policy",
    "PolicyError",
    "Principal",
    "Role",
    "Targets",
    "Verdict",
    "builtin_policy",
    "guard_from_settings",
    "load_policy",
    "parse_policy",
    "read_audit",
]
