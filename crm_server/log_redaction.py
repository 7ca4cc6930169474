"""Secrets never reach the log: query values whose name says they are secret (access_token,
appsecret_proof, hub.verify_token, consumer_secret, api_key, password, signature ...) are masked in
every log line: httpx logs each URL it calls at INFO, uvicorn's access log each request's path and
query. `install()` puts the filter on those loggers and on the root logger's handlers (so a record
from any module, a traceback included, is masked before it is written)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

MASK = "(hidden)"
# name=value in a URL's query (or a form body), where the name contains a secret-sounding word.
_SECRET_PARAM = re.compile(
    r"(?i)(?P<name>(?:^|(?<=[?&;\s\"'(]))[\w.\-\[\]]*(?:token|secret|key|password|passwd|signature|proof)"
    r"[\w.\-\[\]]*=)(?P<value>[^&;\s\"'#)]+)"
)
# The loggers that write URLs: the HTTP client, and the server's access and error logs.
LOGGERS = ("httpx", "httpcore", "uvicorn", "uvicorn.access", "uvicorn.error", "procrastinate")


def redact(text: str) -> str:
    """`text` with the value of every secret-named query parameter replaced by "(hidden)"."""
    if "=" not in text:
        return text
    return _SECRET_PARAM.sub(lambda m: m.group("name") + MASK, text)


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, int | float | bool):
        return value
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message, its arguments and its traceback; never drops a record.
    Arguments keep their places (uvicorn's access formatter unpacks them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Idempotent: on the URL-writing loggers and on the root logger's handlers as they are now
    (call again after the logging set-up adds handlers)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
