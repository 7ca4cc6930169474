"""Reading the machine reports that come back for mail we sent (stdlib `email` only): delivery status
notifications (RFC 3464, multipart/report; report-type=delivery-status) and abuse reports (ARF,
RFC 5965, report-type=feedback-report).

A report is hostile input like any mail: reading never raises, every field is cut to a sane length
and stripped of control characters, and a report too broken to use is simply not a report (the pipe
then treats the message as ordinary mail and keeps it raw in its log either way)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr
from typing import Literal

MAX_RECIPIENTS = 100  # a report about more recipients than this is cut (the raw stays in the log)
MAX_FIELD = 1000
# What is read of a report: its fields and the returned headers come first; a returned message's
# attachments after them are not needed (and a huge report would hold the server for seconds).
MAX_REPORT_BYTES = 2 * 1024 * 1024
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_MSGID = re.compile(r"<[^<>\s]{1,498}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

# RFC 3463 detail codes people meet most, in words (the code itself is kept beside them).
STATUS_WORDS = {
    "1.1": "the mailbox does not exist",
    "1.2": "the recipient's domain does not exist or takes no mail",
    "1.3": "the address is not valid",
    "1.6": "the mailbox has moved",
    "2.1": "the mailbox is disabled",
    "2.2": "the mailbox is full",
    "2.3": "the message is too large for the mailbox",
    "3.4": "the message is too large for the receiving system",
    "4.1": "the receiving server did not answer",
    "4.4": "no route to the receiving server",
    "4.7": "delivery took too long and was given up",
    "7.1": "the receiving server refused the message (policy or spam)",
    "7.26": "the message failed the receiver's authentication checks (SPF, DKIM, DMARC)",
}
SUBJECT_WORDS = {
    "1": "an address problem",
    "2": "a mailbox problem",
    "3": "a problem of the receiving mail system",
    "4": "a network or routing problem",
    "5": "a mail protocol problem",
    "6": "a problem with the message's content",
    "7": "a security or policy refusal",
}
COMPLAINTS = frozenset({"abuse", "fraud", "virus"})  # feedback types that mean "the recipient complained"


@dataclass
class Failure:
    """One recipient a delivery status notification reports on."""

    address: str  # lower-cased; "" when the report names none
    original: str  # the Original-Recipient, when given
    action: str  # failed, delayed, delivered, relayed, expanded (lower-cased)
    status: str  # "5.1.1", or "" when none could be read
    diagnostic: str

    @property
    def kind(self) -> Literal["hard", "soft"] | None:
        """hard: a permanent failure (5.x.x); soft: a transient one (4.x.x) the MTA gave up on; None:
        nothing failed (delivered, relayed, or a delay notice while the MTA still tries)."""
        if self.action != "failed":
            return None
        return "soft" if self.status.startswith("4") else "hard"

    @property
    def reason(self) -> str:
        return describe(self.status, self.diagnostic)


@dataclass
class Report:
    kind: Literal["delivery-status", "feedback-report"]
    original_ids: list[str] = field(default_factory=list)  # Message-IDs of the message reported on
    failures: list[Failure] = field(default_factory=list)  # delivery-status
    feedback_type: str = ""  # feedback-report: abuse, fraud, virus, not-spam, auth-failure, other
    complained: list[str] = field(default_factory=list)  # feedback-report: Original-Rcpt-To addresses
    original_to: list[str] = field(default_factory=list)  # the To of the message reported on

    @property
    def is_complaint(self) -> bool:
        return self.kind == "feedback-report" and self.feedback_type in COMPLAINTS


def clean(value: object, limit: int = MAX_FIELD) -> str:
    """A field as one plain line: control characters (NUL included) become spaces."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())[:limit]


def describe(status: str, diagnostic: str) -> str:
    """The status code and diagnostic text in words: "5.1.1 the mailbox does not exist (smtp; 550 …)"."""
    words = ""
    if status:
        klass, _, detail = status.partition(".")
        words = STATUS_WORDS.get(detail) or SUBJECT_WORDS.get(detail.partition(".")[0], "")
        if not words:
            words = "a permanent failure" if klass == "5" else "a temporary failure"
    head = " ".join(p for p in (status, words) if p)
    text = f"{head} ({diagnostic})" if head and diagnostic else head or diagnostic or "no reason given"
    return clean(text)


def _address(value: str) -> str:
    """ "rfc822; Bob@Example.org" -> "bob@example.org" (the address type is dropped)."""
    kind, sep, rest = value.partition(";")
    text = clean(rest if sep else kind, 320)
    text = (parseaddr(text)[1] or text.strip("<> ")).lower()
    return text if _ADDRESS.match(text) else ""


def _ids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def _fields(part: Message) -> list[Message]:
    """The field groups of a message/delivery-status part (per-message, then one per recipient),
    whether the parser split them (policy.default does) or left them as text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = part.get_payload(decode=True)
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(payload or "")
    groups = re.split(r"\r?\n[ \t]*\r?\n", raw.strip())
    return [HeaderParser().parsestr(g.strip() + "\n") for g in groups if g.strip()]


def _text_fields(part: Message) -> Message:
    """A message/feedback-report part's fields (the parser reads them as an inner message's headers)."""
    inner = part.get_payload()
    if isinstance(inner, list):
        return inner[0] if inner and isinstance(inner[0], Message) else Message()
    payload = part.get_payload(decode=True)
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(part.get_payload() or "")
    return HeaderParser().parsestr(text.strip() + "\n")


def _original(part: Message) -> tuple[list[str], list[str]]:
    """(Message-IDs, To addresses) of the returned message: a message/rfc822 or text/rfc822-headers part."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        headers = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else Message()
    else:
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(part.get_payload() or "")
        headers = HeaderParser().parsestr(text.split("\n\n", 1)[0][:200_000] + "\n")
    to = [_address(a) for a in clean(headers.get("To", ""), 4000).split(",")[:MAX_RECIPIENTS]]
    return _ids(clean(headers.get("Message-ID", ""), 2000)), [a for a in to if a]


def _failure(group: Message) -> Failure | None:
    final = _address(str(group.get("Final-Recipient", "")))
    original = _address(str(group.get("Original-Recipient", "")))
    if not final and not original:
        return None
    diagnostic = clean(group.get("Diagnostic-Code", ""), 600)
    found = _STATUS.search(clean(group.get("Status", ""), 40)) or _STATUS.search(diagnostic)
    action = clean(group.get("Action", ""), 20).lower()
    return Failure(
        address=final or original,
        original=original,
        action=action,
        status=".".join(found.groups()) if found else "",
        diagnostic=diagnostic,
    )


def headers_only(raw: bytes) -> bytes:
    """The message's header block alone (how the pipe logs a report's sender and subject cheaply)."""
    return _HEAD_END.split(raw, 1)[0] + b"\r\n\r\n"


def read_report(raw: bytes) -> Report | None:
    """The report in a message, or None when it is no DSN or ARF report (or too broken to be one)."""
    try:
        head = message_from_bytes(headers_only(raw), policy=policy.compat32)
        if head.get_content_type() != "multipart/report":
            return None  # decided from the headers alone: ordinary mail is not parsed twice
        # compat32: the header registry of policy.default costs ~10x on a report of many recipients
        msg = message_from_bytes(raw[:MAX_REPORT_BYTES], policy=policy.compat32)
        if msg.get_content_type() != "multipart/report":
            return None
        kind = clean(msg.get_param("report-type", ""), 40).lower()
        if kind not in ("delivery-status", "feedback-report"):
            return None
        report = Report(kind=kind)  # type: ignore[arg-type]  # checked just above
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype == "message/delivery-status" and kind == "delivery-status":
                for group in _fields(part)[: MAX_RECIPIENTS + 1]:  # the per-message group names no recipient
                    failure = _failure(group)
                    if failure is not None:
                        report.failures.append(failure)
            elif ctype == "message/feedback-report" and kind == "feedback-report":
                fields = _text_fields(part)
                report.feedback_type = clean(fields.get("Feedback-Type", ""), 40).lower()
                for value in (fields.get_all("Original-Rcpt-To") or [])[:MAX_RECIPIENTS]:
                    address = _address(str(value))
                    if address:
                        report.complained.append(address)
            elif ctype in ("text/rfc822-headers", "message/rfc822") and not report.original_ids:
                report.original_ids, report.original_to = _original(part)
        # Some MTAs also name the returned message in the report's own threading headers.
        for name in ("In-Reply-To", "References"):
            report.original_ids += [i for i in _ids(clean(msg.get(name, ""), 4000)) if i not in report.original_ids]
        report.original_ids = report.original_ids[:20]
        return report
    except Exception:  # the stdlib can raise on pathological structure: then it is no usable report
        return None
