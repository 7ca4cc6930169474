"""Which server this app fits: asked before signing in (GET /api/version, no session needed).

The app imports the same contract as the server, so `APP_API_LEVEL` is the level it was built
with; a server speaking another level would refuse or misread what the app sends, so the app
says so plainly and does not sign in."""

from __future__ import annotations

from importlib import metadata

from crm_desktop.api.client import ApiClient, ApiError
from crm_server.contract.common import API_LEVEL, ServerVersion

APP_API_LEVEL = API_LEVEL  # bound once: the level this app was built with


def app_version() -> str:
    """This app's package version (the source tree's when it is not installed)."""
    try:
        return metadata.version("crm")
    except metadata.PackageNotFoundError:
        from crm_server import __version__

        return __version__


class VersionMismatch(ApiError):
    """The server speaks another API level than this app; `message` says so for a person."""

    def __init__(self, server: ServerVersion | None) -> None:
        theirs = f"version {server.version}, API level {server.api_level}" if server else "an older version"
        mine = f"version {app_version()}, API level {APP_API_LEVEL}"
        super().__init__(
            0,
            "version_mismatch",
            f"This CRM app ({mine}) does not fit the server ({theirs}): ask IT for the matching app.",
        )
        self.server = server


async def server_version(api: ApiClient, retry: bool = False) -> ServerVersion:
    """Not retried by default: the login window says at once that the server cannot be reached."""
    return ServerVersion.model_validate(await api.request("GET", "/api/version", retry=retry))


async def ensure_fits(api: ApiClient, retry: bool = False) -> ServerVersion:
    """The server's version when this app fits it; raises VersionMismatch when not, ApiError
    (Offline, ...) when it cannot be asked (`retry`: wait for a server that is away, as GETs do)."""
    try:
        server = await server_version(api, retry)
    except ApiError as error:
        if error.status == 404:  # a server from before versions existed
            raise VersionMismatch(None) from error
        raise
    if server.api_level != APP_API_LEVEL:
        raise VersionMismatch(server)
    return server
