"""Typed models of what WhatsApp's webhook delivers: the envelope, every inbound message type,
status updates and errors. Frozen dataclasses: once parsed, nothing downstream can change them.

Every inbound message shares `InboundMessage`'s fields; each type adds the object Meta names
after it. `text` is the one piece of readable text a message carries (body, caption or the
title of a tapped button) so the store, the prompt and the dashboard read it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    UNSUPPORTED = "unsupported"
    SYSTEM = "system"


MEDIA_TYPES = frozenset(
    {MessageType.IMAGE, MessageType.AUDIO, MessageType.VIDEO, MessageType.DOCUMENT, MessageType.STICKER}
)
# What the assistant answers; reactions, unsupported and system messages are only recorded.
REPLYABLE_TYPES = MEDIA_TYPES | {
    MessageType.TEXT,
    MessageType.LOCATION,
    MessageType.CONTACTS,
    MessageType.INTERACTIVE,
    MessageType.BUTTON,
}


class DeliveryStatus(StrEnum):
    """Where an outbound message is; the order is the order WhatsApp moves it forward."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        # `failed` is final: a late `sent` must not hide that the message never arrived.
        return _STATUS_RANK[self]


_STATUS_RANK = {
    DeliveryStatus.ACCEPTED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
    DeliveryStatus.PLAYED: 4,
    DeliveryStatus.FAILED: 9,
}


@dataclass(frozen=True)
class ReportedError:
    """An error object as Meta puts it in `value.errors`, `messages[].errors` and `statuses[].errors`."""

    code: int
    title: str = ""
    message: str = ""
    details: str = ""
    href: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title or self.message, "detail": self.details}


@dataclass(frozen=True)
class ReplyContext:
    """`context` of an inbound message: what it replies to, or that it was forwarded."""

    message_id: str | None = None  # the wamid replied to; absent on forwarded messages
    from_number: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    referred_product: dict[str, Any] | None = None


@dataclass(frozen=True)
class MediaRef:
    """A media object of an image, audio, video, document or sticker message."""

    id: str
    mime_type: str = ""
    sha256: str = ""
    url: str | None = None  # present on newer deliveries; the id is always the fallback
    caption: str = ""
    filename: str = ""
    voice: bool = False  # audio: a recorded voice note rather than a sent audio file
    animated: bool = False  # sticker


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    name: str = ""
    address: str = ""
    url: str = ""


@dataclass(frozen=True)
class InteractiveReply:
    """A tapped reply button (`button_reply`) or a chosen list row (`list_reply`)."""

    type: str
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Button:
    """A quick-reply button of a template message."""

    text: str
    payload: str = ""


@dataclass(frozen=True)
class Reaction:
    message_id: str
    emoji: str | None  # None when the user removed their reaction

    @property
    def removed(self) -> bool:
        return not self.emoji


class SystemType(StrEnum):
    """The `system` messages that change who a user is."""

    USER_CHANGED_NUMBER = "user_changed_number"  # a new phone, and with it a new BSUID
    USER_CHANGED_USER_ID = "user_changed_user_id"  # a new BSUID only (no phone can be shared)


@dataclass(frozen=True)
class SystemEvent:
    type: str
    body: str = ""
    wa_id: str | None = None  # the new number on `user_changed_number`
    user_id: str | None = None  # the new BSUID
    parent_user_id: str | None = None
    previous_user_id: str | None = None  # the BSUID the user had before
    previous_parent_user_id: str | None = None

    @property
    def changes_identity(self) -> bool:
        return self.type in (SystemType.USER_CHANGED_NUMBER, SystemType.USER_CHANGED_USER_ID)


@dataclass(frozen=True)
class UserIdentity:
    """Who a WhatsApp user is to one business: their phone number when it can be shared, their
    business-scoped user id (BSUID, `CC.<alnum>`) on every delivery since April 2026, and the
    username they chose. At least one of `wa_id` and `user_id` is known."""

    wa_id: str | None = None  # digits, no "+"
    user_id: str | None = None  # BSUID, e.g. US.13491208655302741918
    parent_user_id: str | None = None  # the BSUID across a business portfolio (`CC.ENT.<alnum>`)
    username: str | None = None
    name: str | None = None  # contacts[].profile.name

    @property
    def key(self) -> str:
        """What a conversation is keyed by: the phone when known (as conversations always were),
        else the BSUID."""
        return self.wa_id or self.user_id or ""

    def merged(self, other: UserIdentity | None) -> UserIdentity:
        """This identity with the blanks filled in from `other` (the same user's contact entry)."""
        if other is None:
            return self
        return UserIdentity(
            wa_id=self.wa_id or other.wa_id,
            user_id=self.user_id or other.user_id,
            parent_user_id=self.parent_user_id or other.parent_user_id,
            username=self.username or other.username,
            name=self.name or other.name,
        )

    def same_user(self, other: UserIdentity) -> bool:
        return bool(
            (self.wa_id and self.wa_id == other.wa_id) or (self.user_id and self.user_id == other.user_id)
        )


@dataclass(frozen=True, kw_only=True)
class InboundMessage:
    """Fields every message a WhatsApp user sends has."""

    type: ClassVar[MessageType]
    wamid: str
    user: UserIdentity  # the WhatsApp user: the sender, or for an echo the one it went to
    timestamp: datetime
    context: ReplyContext | None = None
    errors: tuple[ReportedError, ...] = ()

    @property
    def text(self) -> str:
        return ""

    @property
    def sender(self) -> str:
        """The user's key: their phone when known, else their BSUID."""
        return self.user.key

    @property
    def reply_to(self) -> str | None:
        return self.context.message_id if self.context else None

    @property
    def forwarded(self) -> bool:
        return bool(self.context and (self.context.forwarded or self.context.frequently_forwarded))


@dataclass(frozen=True, kw_only=True)
class TextMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.TEXT
    body: str

    @property
    def text(self) -> str:
        return self.body


@dataclass(frozen=True, kw_only=True)
class MediaMessage(InboundMessage):
    media: MediaRef

    @property
    def text(self) -> str:
        return self.media.caption


@dataclass(frozen=True, kw_only=True)
class ImageMessage(MediaMessage):
    type: ClassVar[MessageType] = MessageType.IMAGE


@dataclass(frozen=True, kw_only=True)
class AudioMessage(MediaMessage):
    type: ClassVar[MessageType] = MessageType.AUDIO


@dataclass(frozen=True, kw_only=True)
class VideoMessage(MediaMessage):
    type: ClassVar[MessageType] = MessageType.VIDEO


@dataclass(frozen=True, kw_only=True)
class DocumentMessage(MediaMessage):
    type: ClassVar[MessageType] = MessageType.DOCUMENT


@dataclass(frozen=True, kw_only=True)
class StickerMessage(MediaMessage):
    type: ClassVar[MessageType] = MessageType.STICKER


@dataclass(frozen=True, kw_only=True)
class LocationMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.LOCATION
    location: Location

    @property
    def text(self) -> str:
        return self.location.name


@dataclass(frozen=True, kw_only=True)
class ContactsMessage(InboundMessage):
    """Contact cards the user shared (not the sender), kept as Meta sends them."""

    type: ClassVar[MessageType] = MessageType.CONTACTS
    contacts: tuple[dict[str, Any], ...]


@dataclass(frozen=True, kw_only=True)
class InteractiveMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.INTERACTIVE
    reply: InteractiveReply

    @property
    def text(self) -> str:
        return self.reply.title


@dataclass(frozen=True, kw_only=True)
class ButtonMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.BUTTON
    button: Button

    @property
    def text(self) -> str:
        return self.button.text


@dataclass(frozen=True, kw_only=True)
class ReactionMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.REACTION
    reaction: Reaction

    @property
    def text(self) -> str:
        return self.reaction.emoji or ""


@dataclass(frozen=True, kw_only=True)
class UnsupportedMessage(InboundMessage):
    """A type WhatsApp cannot deliver to us (poll, edit, ...) or one this code does not know."""

    type: ClassVar[MessageType] = MessageType.UNSUPPORTED
    unsupported_type: str = ""


@dataclass(frozen=True, kw_only=True)
class SystemMessage(InboundMessage):
    type: ClassVar[MessageType] = MessageType.SYSTEM
    system: SystemEvent

    @property
    def text(self) -> str:
        return self.system.body


@dataclass(frozen=True)
class Pricing:
    """`statuses[].pricing`: what Meta bills for one message (per message since July 2025)."""

    billable: bool
    category: str  # marketing, utility, authentication, service, marketing_lite
    pricing_model: str = "PMP"
    type: str = "regular"  # regular, free_customer_service, free_entry_point

    def as_dict(self) -> dict[str, Any]:
        return {
            "billable": self.billable,
            "category": self.category,
            "pricing_model": self.pricing_model,
            "type": self.type,
        }


@dataclass(frozen=True)
class StatusUpdate:
    """`statuses[]`: how far one of our outbound messages got."""

    wamid: str
    status: DeliveryStatus
    timestamp: datetime
    recipient_id: str | None  # the user's phone; absent for a user known only by BSUID
    errors: tuple[ReportedError, ...] = ()
    pricing: Pricing | None = None
    callback_data: str | None = None  # `biz_opaque_callback_data` we sent with the message
    recipient_user_id: str | None = None  # the user's BSUID

    @property
    def recipient(self) -> str:
        """The recipient's key, as conversations are keyed: the phone when known, else the BSUID."""
        return self.recipient_id or self.recipient_user_id or ""

    @property
    def pricing_category(self) -> str | None:
        return self.pricing.category if self.pricing else None


@dataclass(frozen=True)
class TemplateEvent:
    """A `message_template_status_update` or `message_template_quality_update` change: Meta's
    review of one of the account's templates, or a new quality score for it."""

    waba_id: str
    template_id: str
    name: str
    language: str
    status: str | None = None  # APPROVED, REJECTED, PAUSED, DISABLED, ... (the `event`)
    quality: str | None = None  # GREEN, YELLOW, RED, UNKNOWN
    reason: str | None = None


@dataclass(frozen=True)
class Rejected:
    """A part of an authenticated delivery we could not understand, kept for an operator."""

    path: str  # where in the body, e.g. `entry[0].changes[1].value.messages[3]`
    reason: str
    raw: Any  # the offending JSON as received


@dataclass(frozen=True)
class Echo:
    """A message the business sent from the WhatsApp Business app (Coexistence): `message` holds
    its content as Meta's message object does, its `user` the customer it went to."""

    message: InboundMessage


@dataclass(frozen=True)
class HistoryMessage:
    """One message of a `history` sync: a past message of a thread, from the user or, with
    `from_business`, sent by the business (its `user` is then the recipient)."""

    message: InboundMessage
    from_business: bool
    status: str = ""  # history_context.status: the last delivery state (READ, DELIVERED, ...)


@dataclass(frozen=True)
class ContactUpdate:
    """`smb_app_state_sync`: a contact the business added, edited or removed in the app."""

    wa_id: str
    full_name: str = ""
    first_name: str = ""
    action: str = ""  # add | edit | remove
    user_id: str | None = None

    @property
    def name(self) -> str:
        return self.full_name or self.first_name


class ChangeField(StrEnum):
    """The webhook fields whose content is stored; every other field is acknowledged and ignored."""

    MESSAGES = "messages"
    ECHOES = "smb_message_echoes"
    HISTORY = "history"
    APP_STATE_SYNC = "smb_app_state_sync"


@dataclass(frozen=True)
class ChangeValue:
    """`entry[].changes[].value` of a stored field, for one business phone number.

    `messages` are the users' messages to answer, except under the `history` field, where they
    are past media messages a sync sends apart (stored, never answered)."""

    phone_number_id: str
    display_phone_number: str = ""
    contacts: tuple[UserIdentity, ...] = ()
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    errors: tuple[ReportedError, ...] = ()
    field: ChangeField = ChangeField.MESSAGES
    echoes: tuple[Echo, ...] = ()
    history: tuple[HistoryMessage, ...] = ()
    contact_updates: tuple[ContactUpdate, ...] = ()

    @property
    def contact_names(self) -> dict[str, str]:
        """The profile name of each user by key (phone when known, else BSUID)."""
        return {c.key: c.name for c in self.contacts if c.name and c.key}


@dataclass(frozen=True)
class Change:
    field: str
    value: ChangeValue | None  # None for fields other than `messages`
    template: TemplateEvent | None = None  # for the two template fields


@dataclass(frozen=True)
class Entry:
    id: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST from Meta: the envelope, plus the parts that could not be understood."""

    object: str
    entries: tuple[Entry, ...]
    rejected: tuple[Rejected, ...] = ()

    @property
    def message_changes(self) -> tuple[ChangeValue, ...]:
        return tuple(c.value for e in self.entries for c in e.changes if c.value is not None)

    @property
    def template_events(self) -> tuple[TemplateEvent, ...]:
        return tuple(c.template for e in self.entries for c in e.changes if c.template is not None)
