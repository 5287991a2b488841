"""The mcp SDK's own OAuth client (OAuthClientProvider), as a user's client runs it, with the login and
consent pages of the test's authorization server filled in by AuthorizationServer.authorize_async."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from .authorization_server import AuthorizationServer
from .ports import free_port


class MemoryStorage:
    """Where the client keeps its registration and tokens (a real client keeps them on disk)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def oauth_client(
    auth: AuthorizationServer, server_url: str, auth_method: str | None = None
) -> tuple[OAuthClientProvider, dict[str, Any], MemoryStorage]:
    """An httpx auth for server_url that runs the whole flow on the first 401; `seen` records the
    authorization URL the client built and the redirect it got back."""
    seen: dict[str, Any] = {}

    async def redirect_handler(authorization_url: str) -> None:
        seen["authorization_url"] = authorization_url
        seen["callback"] = await auth.authorize_async(authorization_url)

    async def callback_handler() -> tuple[str, str | None]:
        query = parse_qs(urlsplit(seen["callback"]).query)
        assert "code" in query, f"authorization refused: {seen['callback']}"
        return query["code"][0], query.get("state", [None])[0]

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[f"http://localhost:{free_port()}/callback"],
            token_endpoint_auth_method=auth_method,
            client_name="mcp e2e client",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        timeout=30,
    )
    return provider, seen, storage
