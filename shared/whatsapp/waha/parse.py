"""A WAHA webhook body -> the models the Cloud API's webhooks are parsed into.

WAHA posts one event per request (`{"event", "session", "me", "payload", ...}`); each becomes a
`WahaDelivery` for the business number its session serves here, holding the same
`InboundMessage`s and `StatusUpdate`s a Meta delivery does, so the store, the media and reply
functions and the dashboard never learn which provider a conversation uses:

- `message` (and `message.any` for what the customer sent): an inbound message, its id WAHA's
  serialised message id (`false_<chat>_<hex>`), its sender the chat's user part (digits for
  `@c.us`, the whole `<id>@lid` for a user whose number WhatsApp hides, as a BSUID);
- `message.any` with `fromMe`: typed on the business's own phone (`source: "app"`) it is a
  Coexistence `Echo` (shared/store/coexistence.py: recorded as the business's message, the
  assistant paused for HUMAN_REPLY_PAUSE_MINUTES); sent through the API it is one of our
  own sends (the reply and dashboard paths record those), so nothing is stored and nothing is
  ever answered;
- `message.ack`: a `StatusUpdate` of one of our messages (ERROR, PENDING, SERVER, DEVICE, READ,
  PLAYED -> failed, accepted, sent, delivered, read, played);
- `message.reaction`: a reaction message; `message.revoked`: a `Revoked` marker;
- group, broadcast and newsletter chats, and events of no interest (`session.status`, presence):
  `ignored` says why, nothing else is kept.

As for Meta's bodies, a payload this code cannot read is `rejected` (quarantined by the webhook)
and an envelope it cannot read at all raises `MalformedDelivery`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.whatsapp.models import (
    AudioMessage,
    ChangeValue,
    ContactsMessage,
    DeliveryStatus,
    DocumentMessage,
    Echo,
    ImageMessage,
    InboundMessage,
    Location,
    LocationMessage,
    MediaMessage,
    MediaRef,
    Reaction,
    ReactionMessage,
    Rejected,
    ReplyContext,
    ReportedError,
    StatusUpdate,
    StickerMessage,
    TextMessage,
    UnsupportedMessage,
    UserIdentity,
    VideoMessage,
)
from shared.whatsapp.parse import MalformedDelivery

# WAHA's ack numbers (WAMessageAck) -> our statuses; PENDING is "not yet on WhatsApp's server".
ACK_STATUSES: dict[int, DeliveryStatus] = {
    -1: DeliveryStatus.FAILED,
    0: DeliveryStatus.ACCEPTED,
    1: DeliveryStatus.SENT,
    2: DeliveryStatus.DELIVERED,
    3: DeliveryStatus.READ,
    4: DeliveryStatus.PLAYED,
}
ACK_NAMES = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}
ACK_ERROR_CODE = -1  # the code a failed WAHA message is recorded with: WAHA gives no reason

MESSAGE_EVENTS = frozenset({"message", "message.any"})
# Chat id suffixes: a person, a person whose number WhatsApp hides, and the chats we never answer.
_USER_SERVERS = ("c.us", "s.whatsapp.net")
_IGNORED_SERVERS = {"g.us": "group", "broadcast": "broadcast", "newsletter": "newsletter"}
LID_PREFIX = "lid."
_CHAT_USER = re.compile(r"[0-9A-Za-z.:-]{1,64}")


class _Invalid(ValueError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class _Ignored(Exception):
    """The event is valid and of no concern to the assistant; `reason` goes to the log."""

    def __init__(self, reason: str, chat_kind: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.chat_kind = chat_kind


@dataclass(frozen=True)
class Revoked:
    """A message deleted for everyone by whoever sent it."""

    wamid: str
    customer: str
    timestamp: datetime


@dataclass(frozen=True)
class WahaDelivery:
    """One WAHA webhook, in our models, for the business number its session serves."""

    event: str
    session: str
    event_id: str
    value: ChangeValue  # its messages and statuses, stored exactly like a Meta delivery's
    echoes: tuple[Echo, ...] = ()  # typed on the business's phone, as Coexistence's echoes are
    revoked: tuple[Revoked, ...] = ()
    ignored: str = ""  # why nothing of the event is kept, when nothing is
    ignored_chat: str = ""  # "group", "broadcast" or "newsletter" for a chat we never answer
    rejected: tuple[Rejected, ...] = ()
    session_status: str = ""  # the new status of a `session.status` event


# -- small typed readers ---------------------------------------------------------------------------


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(path, f"expected an object, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise _Invalid(f"{path}.{key}", "is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"{path}.{key}", f"expected a string, got {type(value).__name__}")
    return str(value)


def _float(obj: Mapping[str, Any], key: str, path: str) -> float:
    value = obj.get(key)  # WAHA's engines send coordinates as numbers or as strings
    if isinstance(value, bool) or value is None or value == "":
        raise _Invalid(f"{path}.{key}", "is missing" if value in (None, "") else "expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"{path}.{key}", f"expected a number, got {value!r}") from None


def _seconds(value: Any, path: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(path, "expected unix seconds")
    try:
        seconds = float(value)
        if seconds > 10**11:  # milliseconds (the envelope's timestamp)
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise _Invalid(path, f"expected unix seconds, got {value!r}") from None


def _data(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    data = payload.get("_data")  # engine-specific: read for hints only, never relied on
    return data if isinstance(data, Mapping) else {}


# -- chat ids --------------------------------------------------------------------------------------


def chat_user(chat_id: str, path: str) -> str:
    """The user a one-to-one chat id names, as stored (`123@c.us` -> `123`, `9@lid` -> `lid.9`).

    A hidden number keeps a prefix no phone number has, and no `@` (conversation ids, which it
    is part of, hold none), so `chat_id_of` can always tell WAHA which chat it is.

    Raises `_Ignored` for group, broadcast and newsletter chats, `_Invalid` for anything else.
    """
    user, at, server = chat_id.partition("@")
    server = server.lower()
    if not at or not user:
        raise _Invalid(path, f"not a WhatsApp chat id: {chat_id[:80]!r}")
    if server in _IGNORED_SERVERS or user == "status":
        kind = _IGNORED_SERVERS.get(server, "broadcast")
        raise _Ignored(f"{kind} chat", kind)
    user = user.split(":", 1)[0]  # a linked device of the user (`123:4@c.us`) is the user
    if not _CHAT_USER.fullmatch(user):
        raise _Invalid(path, f"not a WhatsApp chat id: {chat_id[:80]!r}")
    if server in _USER_SERVERS:
        return user.lstrip("+")
    if server == "lid":
        return f"{LID_PREFIX}{user}"
    raise _Invalid(path, f"unknown kind of chat: {chat_id[:80]!r}")


def chat_id_of(user: str) -> str:
    """The WAHA chat id of a user as stored: the inverse of `chat_user`."""
    if user.startswith(LID_PREFIX):
        return f"{user.removeprefix(LID_PREFIX)}@lid"
    return f"{user}@c.us"


# -- messages --------------------------------------------------------------------------------------


def _full_id(short_or_full: str, participant: str, customer_chat: str) -> str:
    """A quoted message's id as WAHA serialises ours (`<fromMe>_<chat>_<id>`).

    WEBJS quotes the short id only; whoever wrote it (`participant`) says which side it is."""
    if "_" in short_or_full:
        return short_or_full
    from_customer = not participant or participant.split("@")[0] == customer_chat.split("@")[0]
    return f"{'false' if from_customer else 'true'}_{customer_chat}_{short_or_full}"


def _context(payload: Mapping[str, Any], chat: str, path: str) -> ReplyContext | None:
    raw = payload.get("replyTo")
    forwarded = payload.get("forwarded") is True or _data(payload).get("isForwarded") is True
    if not isinstance(raw, Mapping):
        return ReplyContext(forwarded=True) if forwarded else None
    quoted = _str(raw, "id", f"{path}.replyTo")
    participant = _str(raw, "participant", f"{path}.replyTo")
    return ReplyContext(
        message_id=_full_id(quoted, participant, chat) if quoted else None,
        from_number=participant.split("@")[0] or None,
        forwarded=forwarded,
    )


_MEDIA_KINDS = {
    "image": ImageMessage,
    "video": VideoMessage,
    "audio": AudioMessage,
    "ptt": AudioMessage,
    "sticker": StickerMessage,
    "document": DocumentMessage,
}


def _media_class(kind_hint: str, mime: str) -> type[MediaMessage]:
    if kind_hint in _MEDIA_KINDS:
        return _MEDIA_KINDS[kind_hint]
    top = mime.split("/", 1)[0].lower()
    if mime.lower().startswith("image/webp"):
        return StickerMessage
    return {"image": ImageMessage, "video": VideoMessage, "audio": AudioMessage}.get(top, DocumentMessage)


def _voice(data: Mapping[str, Any]) -> bool:
    if data.get("type") == "ptt":  # WEBJS
        return True
    message = data.get("message")  # NOWEB and GOWS keep WhatsApp's protobuf shape
    audio = message.get("audioMessage") if isinstance(message, Mapping) else None
    return isinstance(audio, Mapping) and audio.get("ptt") is True


def _media_message(payload: Mapping[str, Any], path: str, common: dict[str, Any]) -> MediaMessage:
    raw = payload.get("media")
    media = raw if isinstance(raw, Mapping) else {}
    p = f"{path}.media"
    mime = _str(media, "mimetype", p)
    url = _str(media, "url", p) or _str(payload, "mediaUrl", path)
    data = _data(payload)
    ref = MediaRef(
        id=common["wamid"],  # WAHA has no media ids; the message's id names its file
        mime_type=mime,
        url=url or None,  # None when WAHA did not download it (media download off, or it failed)
        caption=_str(payload, "body", path),
        filename=_str(media, "filename", p),
        voice=_voice(data),
        animated=data.get("isAnimated") is True,
    )
    return _media_class(str(data.get("type") or ""), mime)(media=ref, **common)


def _vcard_contact(card: str) -> dict[str, Any]:
    """A vCard as the Cloud API shapes a shared contact (`name.formatted_name`, `phones[]`),
    with the card itself kept under `vcard`."""
    name = ""
    phones: list[dict[str, str]] = []
    for line in card.replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        field, *params = key.split(";")
        field = field.split(".")[-1].upper()  # `item1.TEL` is a TEL
        if field == "FN" and not name:
            name = value.strip()
        elif field == "TEL":
            phone: dict[str, str] = {"phone": value.strip()}
            wa_id = next((p.split("=", 1)[1] for p in params if p.lower().startswith("waid=")), "")
            if wa_id:
                phone["wa_id"] = wa_id
            phones.append(phone)
    return {"name": {"formatted_name": name}, "phones": phones, "vcard": card}


def _vcards(payload: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    raw = payload.get("vCards")
    if not isinstance(raw, list):
        return []
    cards = []
    for i, card in enumerate(raw):
        if not isinstance(card, str):
            raise _Invalid(f"{path}.vCards[{i}]", "expected a vCard string")
        cards.append(_vcard_contact(card))
    return cards


def _location(payload: Mapping[str, Any], path: str) -> Location | None:
    raw = payload.get("location")
    if not isinstance(raw, Mapping):
        return None
    p = f"{path}.location"
    return Location(
        latitude=_float(raw, "latitude", p),
        longitude=_float(raw, "longitude", p),
        name=_str(raw, "name", p) or _str(raw, "description", p),
        address=_str(raw, "address", p),
        url=_str(raw, "url", p),
    )


def parse_message(payload: Mapping[str, Any], sender: str, chat: str, path: str) -> InboundMessage:
    """A customer's message (`message`/`message.any` payload) as the Cloud API's would be."""
    common: dict[str, Any] = {
        "wamid": _str(payload, "id", path, required=True),
        "user": UserIdentity(wa_id=sender),  # WAHA knows a chat, not a BSUID
        "timestamp": _seconds(payload.get("timestamp"), f"{path}.timestamp"),
        "context": _context(payload, chat, path),
    }
    if payload.get("hasMedia") is True or isinstance(payload.get("media"), Mapping):
        return _media_message(payload, path, common)
    if (location := _location(payload, path)) is not None:
        return LocationMessage(location=location, **common)
    if cards := _vcards(payload, path):
        return ContactsMessage(contacts=tuple(cards), **common)
    body = _str(payload, "body", path)
    if body:
        return TextMessage(body=body, **common)
    # Polls, calls, events...: recorded, never answered, as the Cloud API's unsupported types.
    kind = str(_data(payload).get("type") or "unknown")
    return UnsupportedMessage(unsupported_type=kind, **common)


def _profile_name(payload: Mapping[str, Any]) -> str:
    data = _data(payload)
    for key in ("notifyName", "pushName"):  # WEBJS, NOWEB/GOWS
        if isinstance(name := data.get(key), str) and name.strip():
            return name.strip()
    info = data.get("Info")  # GOWS
    name = info.get("PushName") if isinstance(info, Mapping) else None
    return name.strip() if isinstance(name, str) else ""


def _echo(payload: Mapping[str, Any], customer: str, path: str) -> Echo:
    """What the business typed on its phone: its content, its `user` the customer it went to."""
    return Echo(message=parse_message(payload, customer, chat_id_of(customer), path))


# -- events ----------------------------------------------------------------------------------------


def _ack_status(payload: Mapping[str, Any], customer: str, when: datetime, path: str) -> StatusUpdate:
    ack = payload.get("ack")
    if isinstance(ack, bool) or not isinstance(ack, int):
        ack = ACK_NAMES.get(_str(payload, "ackName", path).upper())
    status = ACK_STATUSES.get(ack) if isinstance(ack, int) else None
    if status is None:
        raise _Invalid(f"{path}.ack", f"unknown ack {payload.get('ack')!r} ({payload.get('ackName')!r})")
    errors = ()
    if status is DeliveryStatus.FAILED:
        errors = (ReportedError(code=ACK_ERROR_CODE, title="WAHA could not send the message (ack ERROR)"),)
    return StatusUpdate(
        wamid=_str(payload, "id", path, required=True),
        status=status,
        timestamp=when,
        recipient_id=customer,
        errors=errors,
    )


def _reaction(payload: Mapping[str, Any], customer: str, path: str) -> ReactionMessage:
    reaction = _obj(payload.get("reaction"), f"{path}.reaction")
    return ReactionMessage(
        wamid=_str(payload, "id", path, required=True),
        user=UserIdentity(wa_id=customer),
        timestamp=_seconds(payload.get("timestamp"), f"{path}.timestamp"),
        reaction=Reaction(
            message_id=_str(reaction, "messageId", f"{path}.reaction", required=True),
            emoji=_str(reaction, "text", f"{path}.reaction") or None,  # empty: the reaction was removed
        ),
    )


def _customer_of(payload: Mapping[str, Any], path: str) -> str:
    """The customer's side of a one-to-one chat: `to` on what we sent, `from` on what they sent."""
    from_me = payload.get("fromMe") is True
    key = "to" if from_me else "from"
    return chat_user(_str(payload, key, path, required=True), f"{path}.{key}")


def _parse_event(
    event: str, payload: Mapping[str, Any], when: datetime, value: dict[str, Any], out: dict[str, Any]
) -> None:
    path = "payload"
    if event == "session.status":
        out["session_status"] = _str(payload, "status", path)
        raise _Ignored(f"session status {out['session_status'] or 'unknown'}")
    if event in MESSAGE_EVENTS:
        customer = _customer_of(payload, path)
        if payload.get("fromMe") is True:
            if _str(payload, "source", path) == "app":
                out["echoes"] = (_echo(payload, customer, path),)
                return
            raise _Ignored("our own message, sent through the API")
        if name := _profile_name(payload):
            value["contacts"] = (UserIdentity(wa_id=customer, name=name),)
        message = parse_message(payload, customer, chat_id_of(customer), path)
        if name:
            message = dataclasses.replace(message, user=UserIdentity(wa_id=customer, name=name))
        value["messages"] = (message,)
        return
    if event == "message.ack":
        if payload.get("fromMe") is not True:
            raise _Ignored("an ack of the customer's message")
        customer = _customer_of(payload, path)
        value["statuses"] = (_ack_status(payload, customer, when, path),)
        return
    if event == "message.reaction":
        if payload.get("fromMe") is True:
            raise _Ignored("the business's own reaction")
        customer = _customer_of(payload, path)
        value["messages"] = (_reaction(payload, customer, path),)
        return
    if event == "message.revoked":
        message = (
            payload.get("before") if isinstance(payload.get("before"), Mapping) else payload.get("after")
        )
        message = _obj(message, f"{path}.before")
        customer = _customer_of(message, f"{path}.before")
        out["revoked"] = (
            Revoked(
                wamid=_str(message, "id", f"{path}.before", required=True),
                customer=customer,
                timestamp=when,
            ),
        )
        return
    raise _Ignored(f"event {event!r} is not used")


def parse_waha_delivery(body: bytes, sessions: Mapping[str, str]) -> WahaDelivery:
    """Parse a WAHA webhook body; `sessions` maps WAHA session names to our business number ids.

    Raises MalformedDelivery when the envelope is unusable or names a session not configured here.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDelivery("", f"the body is not valid JSON ({exc})") from None
    try:
        envelope = _obj(data, "$")
        event = _str(envelope, "event", "$", required=True)
        session = _str(envelope, "session", "$", required=True)
        when = _seconds(envelope.get("timestamp") or datetime.now(UTC).timestamp(), "timestamp")
    except _Invalid as exc:
        raise MalformedDelivery(exc.path, exc.reason) from None
    if session not in sessions:
        raise MalformedDelivery("session", f"WAHA session {session!r} is not one of WAHA_SESSION's")
    me = envelope.get("me")
    display = str(me.get("id") or "").split("@")[0] if isinstance(me, Mapping) else ""
    value: dict[str, Any] = {"phone_number_id": sessions[session], "display_phone_number": display}
    out: dict[str, Any] = {}
    rejected: tuple[Rejected, ...] = ()
    event_id = ""
    payload = envelope.get("payload")
    try:
        event_id = _str(envelope, "id", "$")
        _parse_event(event, _obj(payload, "payload"), when, value, out)
    except _Ignored as exc:
        out["ignored"] = exc.reason
        out["ignored_chat"] = exc.chat_kind
    except _Invalid as exc:
        rejected = (Rejected(path=exc.path, reason=exc.reason, raw=payload),)
    return WahaDelivery(
        event=event,
        session=session,
        event_id=event_id,
        value=ChangeValue(**value),
        rejected=rejected,
        **out,
    )
