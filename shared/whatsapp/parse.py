"""Raw webhook JSON -> typed models.

Parsing is strict about what we rely on (ids, types, timestamps) and lenient about everything
else, because Meta adds fields without notice. A delivery is parsed item by item: a message or
status that cannot be understood becomes a `Rejected` naming its path and reason, and its
neighbours in the same batch are still parsed. Only a body whose envelope itself is unusable
raises `MalformedDelivery`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.whatsapp.models import (
    AudioMessage,
    Button,
    ButtonMessage,
    Change,
    ChangeField,
    ChangeValue,
    ContactsMessage,
    ContactUpdate,
    DeliveryStatus,
    DocumentMessage,
    Echo,
    Entry,
    HistoryMessage,
    ImageMessage,
    InboundMessage,
    InteractiveMessage,
    InteractiveReply,
    Location,
    LocationMessage,
    MediaRef,
    Pricing,
    Reaction,
    ReactionMessage,
    Rejected,
    ReplyContext,
    ReportedError,
    StatusUpdate,
    StickerMessage,
    SystemEvent,
    SystemMessage,
    TemplateEvent,
    TextMessage,
    UnsupportedMessage,
    UserIdentity,
    VideoMessage,
    WebhookDelivery,
)


class MalformedDelivery(ValueError):
    """The body is not a WhatsApp webhook at all; `path` says where parsing gave up."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


class _Invalid(ValueError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# -- small typed readers; each names the path that was wrong -------------------------------------


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Invalid(path, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(path, f"expected an array, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise _Invalid(f"{path}.{key}", "is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(f"{path}.{key}", f"expected a string, got {type(value).__name__}")
    return str(value)


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    return obj.get(key) is True


def _float(obj: Mapping[str, Any], key: str, path: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or value is None:
        raise _Invalid(f"{path}.{key}", "is missing" if value is None else "expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Invalid(f"{path}.{key}", f"expected a number, got {value!r}") from None


def _timestamp(obj: Mapping[str, Any], path: str) -> datetime:
    raw = _str(obj, "timestamp", path, required=True)
    try:
        return datetime.fromtimestamp(int(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise _Invalid(f"{path}.timestamp", f"expected unix seconds, got {raw!r}") from None


def _wa_id(raw: str) -> str:
    # Meta's tables sometimes print numbers with a leading "+"; ids are digits.
    return raw.lstrip("+")


# A BSUID is a country code, a dot and alphanumerics (`US.1349...`, `US.ENT.1181...` for a
# portfolio's parent id). It becomes part of a Firestore document id, so nothing else is let in.
_BSUID = re.compile(r"[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,120}")


def _user_id(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    raw = _str(obj, key, path)
    if not raw:
        return None
    if not _BSUID.fullmatch(raw):
        raise _Invalid(f"{path}.{key}", f"not a business-scoped user id: {raw[:40]!r}")
    return raw


def _identity(obj: Mapping[str, Any], path: str, phone_key: str, user_id_key: str) -> UserIdentity:
    """The user a message names under `phone_key` / `user_id_key`; one of them must be there."""
    identity = UserIdentity(
        wa_id=_wa_id(_str(obj, phone_key, path)) or None,
        user_id=_user_id(obj, user_id_key, path),
        parent_user_id=_user_id(obj, f"{user_id_key.removesuffix('user_id')}parent_user_id", path),
    )
    if not identity.key:
        raise _Invalid(f"{path}.{phone_key}", f"is missing, and so is {user_id_key}: nobody to answer")
    return identity


def parse_error(raw: Any, path: str) -> ReportedError:
    obj = _obj(raw, path)
    code = obj.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str) or not str(code).lstrip("-").isdigit():
        raise _Invalid(f"{path}.code", "expected an integer error code")
    data = obj.get("error_data")
    details = data.get("details", "") if isinstance(data, Mapping) else ""
    return ReportedError(
        code=int(code),
        title=str(obj.get("title") or ""),
        message=str(obj.get("message") or ""),
        details=str(details or ""),
        href=str(obj.get("href") or ""),
    )


def _errors(raw: Any, path: str) -> tuple[ReportedError, ...]:
    return tuple(parse_error(e, f"{path}[{i}]") for i, e in enumerate(_list(raw, path)))


# -- messages ----------------------------------------------------------------------------------


def _context(raw: Any, path: str) -> ReplyContext | None:
    if raw is None:
        return None
    obj = _obj(raw, path)
    product = obj.get("referred_product")
    return ReplyContext(
        message_id=_str(obj, "id", path) or None,
        from_number=_str(obj, "from", path) or None,
        forwarded=_bool(obj, "forwarded"),
        frequently_forwarded=_bool(obj, "frequently_forwarded"),
        referred_product=dict(product) if isinstance(product, Mapping) else None,
    )


def _media(msg: Mapping[str, Any], key: str, path: str) -> MediaRef:
    obj = _obj(msg.get(key), f"{path}.{key}")
    p = f"{path}.{key}"
    return MediaRef(
        id=_str(obj, "id", p, required=True),
        mime_type=_str(obj, "mime_type", p),
        sha256=_str(obj, "sha256", p),
        url=_str(obj, "url", p) or None,
        caption=_str(obj, "caption", p),
        filename=_str(obj, "filename", p),
        voice=_bool(obj, "voice"),
        animated=_bool(obj, "animated"),
    )


def _interactive(msg: Mapping[str, Any], path: str) -> InteractiveReply:
    p = f"{path}.interactive"
    obj = _obj(msg.get("interactive"), p)
    kind = _str(obj, "type", p, required=True)
    if kind == "nfm_reply":  # a WhatsApp Flow's answer: its JSON is the content
        reply = _obj(obj.get("nfm_reply"), f"{p}.nfm_reply")
        return InteractiveReply(
            type=kind,
            id=_str(reply, "name", p) or "flow",
            title=_str(reply, "body", p) or _str(reply, "response_json", p),
        )
    reply = _obj(obj.get(kind), f"{p}.{kind}")
    return InteractiveReply(
        type=kind,
        id=_str(reply, "id", f"{p}.{kind}", required=True),
        title=_str(reply, "title", f"{p}.{kind}"),
        description=_str(reply, "description", f"{p}.{kind}"),
    )


def _location(msg: Mapping[str, Any], path: str) -> Location:
    p = f"{path}.location"
    obj = _obj(msg.get("location"), p)
    return Location(
        latitude=_float(obj, "latitude", p),
        longitude=_float(obj, "longitude", p),
        name=_str(obj, "name", p),
        address=_str(obj, "address", p),
        url=_str(obj, "url", p),
    )


def _contacts(msg: Mapping[str, Any], path: str) -> tuple[dict[str, Any], ...]:
    cards = _list(msg.get("contacts"), f"{path}.contacts")
    return tuple(dict(_obj(c, f"{path}.contacts[{i}]")) for i, c in enumerate(cards))


def _reaction(msg: Mapping[str, Any], path: str) -> Reaction:
    p = f"{path}.reaction"
    obj = _obj(msg.get("reaction"), p)
    return Reaction(message_id=_str(obj, "message_id", p, required=True), emoji=_str(obj, "emoji", p) or None)


def _button(msg: Mapping[str, Any], path: str) -> Button:
    p = f"{path}.button"
    obj = _obj(msg.get("button"), p)
    return Button(text=_str(obj, "text", p), payload=_str(obj, "payload", p))


def _system(msg: Mapping[str, Any], path: str) -> SystemEvent:
    p = f"{path}.system"
    obj = _obj(msg.get("system"), p)
    return SystemEvent(
        type=_str(obj, "type", p),
        body=_str(obj, "body", p),
        wa_id=_wa_id(_str(obj, "wa_id", p)) or None,
        user_id=_user_id(obj, "user_id", p),
        parent_user_id=_user_id(obj, "parent_user_id", p),
        previous_user_id=_user_id(obj, "previous_user_id", p),
        previous_parent_user_id=_user_id(obj, "previous_parent_user_id", p),
    )


_Builder = Callable[[Mapping[str, Any], str, dict[str, Any]], InboundMessage]

_BUILDERS: dict[str, _Builder] = {
    "text": lambda m, p, c: TextMessage(
        body=_str(_obj(m.get("text"), f"{p}.text"), "body", f"{p}.text"), **c
    ),
    "image": lambda m, p, c: ImageMessage(media=_media(m, "image", p), **c),
    "audio": lambda m, p, c: AudioMessage(media=_media(m, "audio", p), **c),
    "video": lambda m, p, c: VideoMessage(media=_media(m, "video", p), **c),
    "document": lambda m, p, c: DocumentMessage(media=_media(m, "document", p), **c),
    "sticker": lambda m, p, c: StickerMessage(media=_media(m, "sticker", p), **c),
    "location": lambda m, p, c: LocationMessage(location=_location(m, p), **c),
    "contacts": lambda m, p, c: ContactsMessage(contacts=_contacts(m, p), **c),
    "interactive": lambda m, p, c: InteractiveMessage(reply=_interactive(m, p), **c),
    "button": lambda m, p, c: ButtonMessage(button=_button(m, p), **c),
    "reaction": lambda m, p, c: ReactionMessage(reaction=_reaction(m, p), **c),
    "system": lambda m, p, c: SystemMessage(system=_system(m, p), **c),
}


def parse_message(
    raw: Any, path: str = "message", *, user: UserIdentity | None = None, party: str = "from"
) -> InboundMessage:
    """One element of `value.messages` (or, with `party="to"`, of `message_echoes`: the user is
    the recipient); `user` when the caller knows who it is. Raises ValueError naming the path."""
    msg = _obj(raw, path)
    kind = _str(msg, "type", path, required=True)
    common: dict[str, Any] = {
        "wamid": _str(msg, "id", path, required=True),
        "user": user or _identity(msg, path, party, f"{party}_user_id"),
        "timestamp": _timestamp(msg, path),
        "context": _context(msg.get("context"), f"{path}.context"),
        "errors": _errors(msg.get("errors"), f"{path}.errors"),
    }
    builder = _BUILDERS.get(kind)
    if builder is None:
        # Unknown or newer types (poll, edit, order, ...) are recorded, never a crash.
        unsupported = msg.get("unsupported")
        inner = unsupported.get("type") if isinstance(unsupported, Mapping) else None
        return UnsupportedMessage(unsupported_type=str(inner or kind), **common)
    return builder(msg, path, common)


def parse_status(raw: Any, path: str = "status") -> StatusUpdate:
    obj = _obj(raw, path)
    status_raw = _str(obj, "status", path, required=True)
    try:
        status = DeliveryStatus(status_raw)
    except ValueError:
        raise _Invalid(f"{path}.status", f"unknown status {status_raw!r}") from None
    recipient = _identity(obj, path, "recipient_id", "recipient_user_id")
    return StatusUpdate(
        wamid=_str(obj, "id", path, required=True),
        status=status,
        timestamp=_timestamp(obj, path),
        recipient_id=recipient.wa_id,
        recipient_user_id=recipient.user_id,
        errors=_errors(obj.get("errors"), f"{path}.errors"),
        pricing=_pricing(obj.get("pricing"), f"{path}.pricing"),
        callback_data=_str(obj, "biz_opaque_callback_data", path) or None,
    )


def _pricing(raw: Any, path: str) -> Pricing | None:
    if raw is None:
        return None
    obj = _obj(raw, path)
    category = _str(obj, "category", path)
    if not category:
        return None
    billable = obj.get("billable")
    kind = _str(obj, "type", path) or "regular"
    return Pricing(
        # `billable` is being deprecated: without it, a "regular" message is the billed kind.
        billable=bool(billable) if isinstance(billable, bool) else kind == "regular",
        category=category.lower(),
        pricing_model=_str(obj, "pricing_model", path) or "PMP",
        type=kind,
    )


TEMPLATE_FIELDS = frozenset({"message_template_status_update", "message_template_quality_update"})


def parse_template_event(raw: Any, path: str, waba_id: str) -> TemplateEvent:
    value = _obj(raw, path)
    template_id = value.get("message_template_id")
    if not isinstance(template_id, int | str) or not str(template_id):
        raise _Invalid(f"{path}.message_template_id", "missing")
    quality = _str(value, "new_quality_score", path) or None
    return TemplateEvent(
        waba_id=waba_id,
        template_id=str(template_id),
        name=_str(value, "message_template_name", path),
        language=_str(value, "message_template_language", path),
        status=(_str(value, "event", path) or None) if quality is None else None,
        quality=quality,
        reason=_str(value, "reason", path) or None,
    )


# -- the envelope --------------------------------------------------------------------------------


def _parse_items(
    raw: Any, path: str, parse: Callable[[Any, str], Any], rejected: list[Rejected]
) -> tuple[Any, ...]:
    parsed = []
    for i, item in enumerate(_list(raw, path)):
        item_path = f"{path}[{i}]"
        try:
            parsed.append(parse(item, item_path))
        except _Invalid as exc:
            rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=item))
    return tuple(parsed)


def _contact(raw: Any, path: str) -> UserIdentity | None:
    contact = _obj(raw, path)
    profile = contact.get("profile")
    profile = profile if isinstance(profile, Mapping) else {}
    identity = UserIdentity(
        wa_id=_wa_id(_str(contact, "wa_id", path)) or None,
        user_id=_user_id(contact, "user_id", path),
        parent_user_id=_user_id(contact, "parent_user_id", path),
        username=str(profile.get("username") or "") or None,
        name=str(profile.get("name") or "") or None,
    )
    return identity if identity.key else None


def _with_contacts(message: InboundMessage, contacts: tuple[UserIdentity, ...]) -> InboundMessage:
    """The message's user completed from their `contacts[]` entry (name, username, other id)."""
    for contact in contacts:
        if message.user.same_user(contact):
            return dataclasses.replace(message, user=message.user.merged(contact))
    return message


def _echo(raw: Any, path: str) -> Echo:
    return Echo(parse_message(raw, path, party="to"))


def _history(raw: Any, path: str, display_number: str, rejected: list[Rejected]) -> list[HistoryMessage]:
    """The messages of one `history[]` element, thread by thread, in the order they were sent."""
    item = _obj(raw, path)
    found: list[HistoryMessage] = []
    for i, thread_raw in enumerate(_list(item.get("threads"), f"{path}.threads")):
        thread_path = f"{path}.threads[{i}]"
        try:
            thread = _obj(thread_raw, thread_path)
            user = _identity(thread, thread_path, "id", "user_id")
        except _Invalid as exc:
            rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=thread_raw))
            continue
        for j, msg_raw in enumerate(_list(thread.get("messages"), f"{thread_path}.messages")):
            msg_path = f"{thread_path}.messages[{j}]"
            try:
                msg = _obj(msg_raw, msg_path)
                sender = _wa_id(_str(msg, "from", msg_path))
                from_business = bool(msg.get("to")) or (bool(display_number) and sender == display_number)
                context = msg.get("history_context")
                status = str(context.get("status") or "") if isinstance(context, Mapping) else ""
                message = parse_message(msg, msg_path, user=user)
                found.append(HistoryMessage(message, from_business, status))
            except _Invalid as exc:
                rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=msg_raw))
    return found


def _contact_update(raw: Any, path: str) -> ContactUpdate | None:
    item = _obj(raw, path)
    if item.get("type") != "contact":
        return None
    contact = _obj(item.get("contact"), f"{path}.contact")
    p = f"{path}.contact"
    return ContactUpdate(
        wa_id=_wa_id(_str(contact, "phone_number", p, required=True)),
        full_name=_str(contact, "full_name", p),
        first_name=_str(contact, "first_name", p),
        action=_str(item, "action", path),
        user_id=_user_id(contact, "user_id", p),
    )


def _parse_value(raw: Any, path: str, field_name: ChangeField, rejected: list[Rejected]) -> ChangeValue:
    value = _obj(raw, path)
    metadata = _obj(value.get("metadata"), f"{path}.metadata")
    display_number = _str(metadata, "display_phone_number", f"{path}.metadata")
    contacts = tuple(
        c
        for c in _parse_items(value.get("contacts"), f"{path}.contacts", _contact, rejected)
        if c is not None
    )
    messages = _parse_items(value.get("messages"), f"{path}.messages", parse_message, rejected)
    history: list[HistoryMessage] = []
    errors = list(_parse_items(value.get("errors"), f"{path}.errors", parse_error, rejected))
    if field_name is ChangeField.HISTORY:
        for i, item in enumerate(_list(value.get("history"), f"{path}.history")):
            item_path = f"{path}.history[{i}]"
            if isinstance(item, Mapping) and item.get("errors"):  # the business declined to share
                errors.extend(_parse_items(item["errors"], f"{item_path}.errors", parse_error, rejected))
            try:
                history.extend(_history(item, item_path, display_number, rejected))
            except _Invalid as exc:
                rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=item))
    updates = _parse_items(value.get("state_sync"), f"{path}.state_sync", _contact_update, rejected)
    return ChangeValue(
        phone_number_id=_str(metadata, "phone_number_id", f"{path}.metadata", required=True),
        display_phone_number=display_number,
        contacts=contacts,
        messages=tuple(_with_contacts(m, contacts) for m in messages),
        statuses=_parse_items(value.get("statuses"), f"{path}.statuses", parse_status, rejected),
        errors=tuple(errors),
        field=field_name,
        echoes=_parse_items(value.get("message_echoes"), f"{path}.message_echoes", _echo, rejected),
        history=tuple(history),
        contact_updates=tuple(u for u in updates if u is not None),
    )


def _parse_change(raw: Any, path: str, rejected: list[Rejected], waba_id: str = "") -> Change:
    change = _obj(raw, path)
    field_name = _str(change, "field", path, required=True)
    if field_name in TEMPLATE_FIELDS:
        event = parse_template_event(change.get("value"), f"{path}.value", waba_id)
        return Change(field=field_name, value=None, template=event)
    try:
        stored = ChangeField(field_name)
    except ValueError:
        return Change(field=field_name, value=None)
    return Change(
        field=field_name, value=_parse_value(change.get("value"), f"{path}.value", stored, rejected)
    )


def parse_delivery(body: bytes) -> WebhookDelivery:
    """Parse a webhook body. Raises MalformedDelivery when the envelope itself is unusable."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDelivery("", f"the body is not valid JSON ({exc})") from None
    try:
        envelope = _obj(data, "$")
        if envelope.get("object") != "whatsapp_business_account":
            raise _Invalid("object", f"expected 'whatsapp_business_account', got {envelope.get('object')!r}")
        entries_raw = _list(envelope.get("entry"), "entry")
    except _Invalid as exc:
        raise MalformedDelivery(exc.path, exc.reason) from None
    rejected: list[Rejected] = []
    entries = []
    for i, entry_raw in enumerate(entries_raw):
        path = f"entry[{i}]"
        try:
            entry = _obj(entry_raw, path)
            changes = []
            for j, change_raw in enumerate(_list(entry.get("changes"), f"{path}.changes")):
                change_path = f"{path}.changes[{j}]"
                try:
                    changes.append(
                        _parse_change(change_raw, change_path, rejected, str(entry.get("id") or ""))
                    )
                except _Invalid as exc:
                    rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=change_raw))
            entries.append(Entry(id=str(entry.get("id") or ""), changes=tuple(changes)))
        except _Invalid as exc:
            rejected.append(Rejected(path=exc.path, reason=exc.reason, raw=entry_raw))
    return WebhookDelivery(
        object=str(envelope.get("object") or ""), entries=tuple(entries), rejected=tuple(rejected)
    )
