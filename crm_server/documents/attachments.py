"""Files people attach (tickets, inbound email): the content type stored is one from an allow-list,
never the sender's text, and a download is served so that no browser or viewer runs it."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from fastapi import Response

OCTET_STREAM = "application/octet-stream"
# Types a viewer may open as what they say they are. Anything else (HTML, SVG, scripts: types that
# run code when opened by a browser) is kept and served as plain bytes.
ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/json",
        "application/xml",
        "application/rtf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/x-7z-compressed",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "text/plain",
        "text/csv",
        "text/calendar",
        "message/rfc822",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)


def safe_content_type(declared: str | None, filename: str) -> str:
    """The declared type when it is on the list (parameters dropped, lower case), else the one the
    file name suggests when that is, else application/octet-stream."""
    media = (declared or "").partition(";")[0].strip().lower()
    if media in ALLOWED_TYPES:
        return media
    guessed = (mimetypes.guess_type(filename)[0] or "").lower()
    return guessed if guessed in ALLOWED_TYPES else OCTET_STREAM


def download(filename: str, content_type: str, data: bytes) -> Response:
    """A stored file as a download: the allowed type (re-checked: older rows predate the list),
    its name in the RFC 6266 form, and nosniff so no client guesses a riskier type."""
    return Response(
        data,
        media_type=safe_content_type(content_type, filename),
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
