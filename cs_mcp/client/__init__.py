"""The shared Contentstack API client: every HTTP call of cs-mcp goes through it.

Everything the rest of cs-mcp uses of the client is named here; its `_`-modules are private. Each
of them says in its `__all__` which of its names belong to this public face, as httpx's modules do."""

from cs_mcp.client._admin import *
from cs_mcp.client._analytics import *
from cs_mcp.client._assets import *
from cs_mcp.client._automate import *
from cs_mcp.client._client import *
from cs_mcp.client._entry_models import *
from cs_mcp.client._exceptions import *
from cs_mcp.client._fetch import *
from cs_mcp.client._models import *
from cs_mcp.client._publishing import *
from cs_mcp.client._ratelimit import *
from cs_mcp.client._regions import *
from cs_mcp.client._releases import *
