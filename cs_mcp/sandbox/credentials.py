"""The sandbox's demo credentials.

They are printed at start so that a person can point any Contentstack client at the sandbox.
They open nothing but the local sandbox, so they are not secrets; the same shapes as real ones
are used so that secret scrubbing is exercised on them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxCredentials:
    """Every credential the sandbox accepts, one per kind."""

    api_key: str = "blt5a4b3c2d1e0f9a8b"
    management_token: str = "cs1f2e3d4c5b6a79881726354a5b6c7d8e"
    authtoken: str = "blt9f8e7d6c5b4a3928"
    organization_uid: str = "blt0a1b2c3d4e5f6071"
    branch: str = "main"
    delivery_tokens: dict[str, str] = field(
        default_factory=lambda: {
            "development": "cs7d0e1f2a3b4c5d6e7f8091a2b3c4d5e6",
            "staging": "cs8e1f2a3b4c5d6e7f8091a2b3c4d5e6f7",
            "production": "cs9f2a3b4c5d6e7f8091a2b3c4d5e6f708",
        }
    )


DEMO_CREDENTIALS = SandboxCredentials()
