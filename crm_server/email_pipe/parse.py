"""Reading one raw RFC 822 message into what the tickets service needs (stdlib `email` only).

Mail in the wild is messy: parsing never raises; a message we cannot use (no sender) comes back
as `Malformed` with the reason, so the pipe can log it and refuse it instead of crashing."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath

Attachment = tuple[str, str, bytes]  # (file name, content type, bytes)

TICKET_TAG = re.compile(r"\[\s*ticket\s*#\s*(\d{1,9})\s*\]", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
MAX_ID = 500  # a Message-ID is a unique key: keep it short enough for the index
# The stdlib parser takes seconds per thousand MIME parts (20,000 took 36 s, blocking the server):
# no real message has this many, so more are refused before parsing (the raw stays in the log).
MAX_PARTS = 1000


class Malformed(ValueError):
    """The message cannot be processed (the reason is logged and answered)."""


@dataclass
class ParsedEmail:
    sender: str  # the address, as written
    sender_name: str
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)  # In-Reply-To, then References (newest first)

    @property
    def new_text(self) -> str:
        """What the sender wrote now, without the earlier messages quoted under it."""
        return split_reply(self.body)[0]

    @property
    def quoted(self) -> str:
        """The quoted history under the new text ("" when there is none); `body` has both."""
        return split_reply(self.body)[1]

    @property
    def sender_key(self) -> str:
        """How an address is compared: case-insensitively."""
        return self.sender.strip().lower()

    @property
    def ticket_number(self) -> int | None:
        """The ticket a reply names in its subject: [Ticket#1234] or [Ticket #1234]."""
        found = TICKET_TAG.search(self.subject)
        return int(found.group(1)) if found else None


def _header(msg: Message, name: str) -> str:
    """A header's decoded text; a header too broken to decode is read as raw text."""
    try:
        value = msg.get(name)
    except Exception:  # the header registry can choke on broken syntax
        value = None
    if value is None:
        raw = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
        value = raw[0] if raw else ""
    return " ".join(str(value).replace("\x00", " ").split())  # PostgreSQL text takes no NUL


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID, read even from a message too broken for anything else (the dedup key)."""
    try:
        head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]  # a header is all it needs: no MIME tree
        msg = message_from_bytes(head + b"\r\n\r\n", policy=policy.compat32)
        ids = _message_ids(" ".join(str(msg.get("Message-ID") or "").split()))
    except Exception:
        return None
    return ids[0] if ids else None


def _message_ids(value: str) -> list[str]:
    found = _MSGID.findall(value)
    if not found and value.strip():
        found = [value.strip().split()[0]]
    return [m[:MAX_ID] for m in found]


def _sender(msg: Message) -> tuple[str, str]:
    value = _header(msg, "From") or _header(msg, "Sender") or _header(msg, "Reply-To")
    if not value:
        raise Malformed("The message has no sender (From).")
    name, address = "", ""
    try:
        from_header = msg.get("From")
        addresses: tuple[Address, ...] = getattr(from_header, "addresses", ())
        if addresses:
            name, address = addresses[0].display_name, addresses[0].addr_spec
    except Exception:
        pass
    if not address or "@" not in address:
        pairs = getaddresses([value]) or [parseaddr(value)]
        name, address = pairs[0]
    address = address.strip().strip("<>")
    local, _, domain = address.rpartition("@")
    if not local or not domain or "." not in domain or any(c.isspace() for c in address):
        raise Malformed(f"The sender {value!r} is not an email address.")
    return address[:320], name.strip()[:200]


def _decode_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name: latin-1 never fails and keeps ASCII intact
        text = payload.decode("latin-1", errors="replace")
    if part.get_content_type() == "text/plain" and str(part.get_param("format") or "").lower() == "flowed":
        text = unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
    return text


def unflow(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 format=flowed as the lines the sender typed: a line ending in a space is a soft
    break and joins the next line of the same quote depth (DelSp=yes: that space was added by the
    sender's mailer and goes); "-- " (the signature separator) is never soft; the space a mailer
    stuffs before a line starting with a space, ">" or "From " is removed. Quoted lines keep their
    depth as "> " (">> " for two levels)."""
    joined: list[tuple[int, str]] = []
    soft = False
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        next_soft = content.endswith(" ") and content != "-- "
        if next_soft and delsp:
            content = content[:-1]
        if soft and joined and joined[-1][0] == depth:
            joined[-1] = (depth, joined[-1][1] + content)
        else:  # a new paragraph (or a soft break followed by another depth: improperly flowed, kept apart)
            joined.append((depth, content))
        soft = next_soft
    return "\n".join(f"{'>' * depth} {content}".rstrip() if depth else content for depth, content in joined)


# Where the quoted history of a reply starts: an attribution line ("On … wrote:", in a few languages
# the office meets), Outlook's "-----Original Message-----" or its From:/Sent: header block.
_ATTRIBUTION = re.compile(
    r"^(on\b.{0,300}\b(wrote|writes)|am\b.{0,300}\bschrieb|le\b.{0,300}\ba [ée]crit|[îi]n\b.{0,300}\ba scris"
    r"|el\b.{0,300}\bescribi[óo]|il\b.{0,300}\bha scritto|op\b.{0,300}\bschreef)\s*:$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|ursprüngliche nachricht|mesaj(ul)? original|message d'origine"
    r"|mensaje original|messaggio originale)\s*-{2,}$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\*?(from|von|de|da|van)\s*:\*?\s", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\*?(sent|date|gesendet|datum|trimis|data|envoy[ée]|enviado|inviato|verzonden)\s*:", re.IGNORECASE
)
_RULE = re.compile(r"^_{8,}$")


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _history_starts(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    rest = [x for x in lines[i + 1 :] if x.strip()]
    if _ORIGINAL.match(line):
        return True
    if _HEADER_FROM.match(line) and any(_HEADER_SENT.match(x.strip()) for x in rest[:4]):
        return True
    for attribution in (line, f"{line} {lines[i + 1].strip()}" if i + 1 < len(lines) else ""):
        if attribution and _ATTRIBUTION.match(attribution):
            skip = 1 if attribution == line else 2
            after = [x for x in lines[i + skip :] if x.strip()]
            if after and _quoted(after[0]):
                return True
    # A block of quoted lines that runs to the end of the message (top-posting without attribution).
    return _quoted(line) and all(_quoted(x) for x in rest)


def split_reply(body: str) -> tuple[str, str]:
    """(new text, quoted history) of a reply. Only a history *under* the new text is split off: a
    reply written between the quotes (or under them) is kept whole, as is a message that is only a
    quote; then the history is "". Nothing is lost: the two parts are the whole body."""
    lines = body.split("\n")
    for i in range(len(lines)):
        if lines[i].strip() and _history_starts(lines, i):
            cut = i - 1 if i and _RULE.match(lines[i - 1].strip()) else i
            new, history = "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip()
            return (new, history) if new else (body.strip(), "")
    return body.strip(), ""


class _HtmlText(HTMLParser):
    """HTML to readable text: blocks become lines, scripts and styles vanish, links keep their URL."""

    BLOCKS = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "table",
            "ul",
            "ol",
            "hr",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS and tag not in ("li", "br", "tr"):
            self.out.append("\n")
        if tag == "a" and self.href and self.href.startswith(("http:", "https:", "mailto:")):
            self.out.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is only a last resort
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        name = PureWindowsPath(PurePosixPath(str(name)).name).name.strip()
    if not name:
        subtype = part.get_content_subtype() or "bin"
        name = f"attachment-{index}.{'eml' if part.get_content_type() == 'message/rfc822' else subtype}"
    return name[:255]


def _walk(part: Message, found: list[Message]) -> None:
    """Leaf parts in order; an attached message counts as one leaf (kept whole, as .eml)."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        found.append(part)
        return
    for child in part.get_payload():
        if isinstance(child, Message):
            _walk(child, found)


def _body_and_attachments(msg: EmailMessage) -> tuple[str, list[Attachment]]:
    leaves: list[Message] = []
    _walk(msg, leaves)
    attached = [
        p
        for p in leaves
        if p.get_content_disposition() == "attachment"
        or p.get_content_type() == "message/rfc822"
        or p.get_param("name")
        or p.get_filename()
    ]
    texts = [p for p in leaves if p not in attached and p.get_content_maintype() == "text"]
    plain = [p for p in texts if p.get_content_subtype() == "plain"]
    rich = [p for p in texts if p.get_content_subtype() == "html"]
    if plain:
        body = "\n\n".join(_decode_text(p).strip() for p in plain)
    elif rich:
        body = "\n\n".join(html_to_text(_decode_text(p)) for p in rich)
    else:
        body = ""
    # Inline images and other non-text parts without a disposition are files too.
    attached += [p for p in leaves if p not in attached and p not in texts]
    attachments: list[Attachment] = []
    for index, part in enumerate(attached, start=1):
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner and not isinstance(inner[0], str) else b""
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        attachments.append((_filename(part, index), part.get_content_type(), data))
    return body.replace("\r\n", "\n").replace("\x00", "").strip(), attachments


def parse(raw: bytes) -> ParsedEmail:
    """The parts of one message the pipe uses; raises `Malformed` when it cannot be used at all."""
    if not raw.strip():
        raise Malformed("The message is empty.")
    if raw.count(b"\n--") > MAX_PARTS:  # every MIME boundary line starts so (an upper bound of the parts)
        raise Malformed(f"The message has more than {MAX_PARTS} MIME parts.")
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        if not msg.keys():
            raise Malformed("The message has no headers.")
        sender, name = _sender(msg)
        body, attachments = _body_and_attachments(msg)
        ids = _message_ids(_header(msg, "Message-ID"))
        replies = _message_ids(_header(msg, "In-Reply-To")) + _message_ids(_header(msg, "References"))[::-1]
    except Malformed:
        raise
    except Exception as exc:  # the stdlib can still raise on pathological structure
        raise Malformed(f"The message cannot be read: {exc}") from exc
    return ParsedEmail(
        sender=sender,
        sender_name=name,
        subject=_header(msg, "Subject")[:1000],
        body=body,
        attachments=attachments,
        message_id=ids[0] if ids else None,
        in_reply_to=list(dict.fromkeys(replies)),
    )
