"""A local WhatsApp Cloud API simulator: it plays Meta's side for tests and for `make dev`.

Our code reaches it through ``WHATSAPP_API_URL`` (e.g. ``http://127.0.0.1:8090/v27.0``) and cannot
tell it from Meta: same paths, bearer-token checks, response and error bodies, signed webhooks with
status updates, the two-step media download with expiring URLs.

Graph API subset (``Authorization: Bearer <token>`` on every call, any ``vNN.N`` version):
  POST /{v}/{phone_number_id}/messages   send (text ≤ 4096, image/audio/video/document/sticker by id or
                                         link, reaction, location, contacts, interactive (Meta's
                                         button and list limits, refused with 131009), template),
                                         mark read, typing indicator; to ``"to"`` (a phone) or
                                         ``"recipient"`` (a BSUID; ``to`` wins when both are given);
                                         131062 for a BSUID send of a type in ``refuse_user_id_types``
  POST /{v}/{phone_number_id}/media      business media upload (multipart ``file``) -> {"id"}
  GET  /{v}/{media_id}                   media metadata with a download URL; DELETE /{v}/{media_id}
  POST /{v}/{waba_id}/message_templates  create a template (PENDING until reviewed) -> {"id","status","category"}
  GET  /{v}/{waba_id}/message_templates  the templates, paged (?limit=&after=, paging.cursors/next)
  GET  /whatsapp_business/attachments/?mid=..&ext=..&hash=..   the bytes (bearer required, URL expires)

Control API (JSON, no auth) under ``/_sim/``; a running server's ``.state`` offers the same as methods:
  POST /_sim/inbound          act as the user: {"from","name","type","text"|"media_id"|"data_base64"|<type obj>,
                              "caption","filename","voice","context":{"id"},"phone_number_id"?} or
                              {"batch":[...]} -> {"wamid","wamids","webhook_status","error","body"};
                              every webhook carries the user's BSUID (from_user_id, contacts[].user_id,
                              statuses' recipient_user_id), as Meta's have since April 2026
  GET|POST /_sim/users/<wa_id>  who the user is: {"username","hide_phone"}: a hidden phone sends no
                              ``from``/``wa_id``/``recipient_id``, so the business must use ``recipient``
  POST /_sim/business-app/send  {"to","text"}: the owner writes from the WhatsApp Business app: the user
                              gets it, the webhook an ``smb_message_echoes`` change
  POST /_sim/history          {"wa_ids"?}: one ``history`` webhook with the conversations held (Coexistence
                              onboarding)
  POST /_sim/redeliver        {"wamid"}: post the same envelope bytes again (dedupe tests)
  POST /_sim/deliver-raw      {"body"|"body_base64"|"json", "signature"?: str|null, "headers"?}
  POST /_sim/verify-webhook   run the GET hub.challenge handshake against the webhook
  POST /_sim/statuses         {"wamid","status","code"?}: push one status webhook by hand
  POST /_sim/media            multipart "file" (+ "mime_type", "filename") or raw bytes -> {"id","sha256",...}
  GET  /_sim/media/<id>       the stored bytes (chat page); POST /_sim/expire-media-urls
  GET  /_sim/outbox           what the business sent (?wa_id=, ?wait_count=N&timeout=S long-polls)
  GET  /_sim/events           every Graph call (?kind=send|mark_read|typing|media_*|auth_failed)
  GET  /_sim/inbox            what the user sent; GET /_sim/deliveries: every webhook attempt
  GET|POST|DELETE /_sim/faults  error switches, e.g. {"target":"send","code":131047,"count":1},
                              {"target":"send","hang_seconds":5}, {"target":"media_download","http_status":500,
                              "count":2}, {"target":"delivery","code":131026} (accepted, then a failed status)
  GET|POST /_sim/config       read or change settings at run time (e.g. {"auto_read": false},
                              {"extra_phone_number_ids": ["..."]} for more business numbers,
                              {"refuse_user_id_types": ["template"]})
  POST /_sim/clock            {"advance_seconds": N}: Meta's clock moves forward (the 24 h window closes)
  GET|POST /_sim/templates    list, or add one at once ({"name","language","category","components",
                              "status"?="APPROVED"}, no webhook)
  POST /_sim/templates/<id>/review   {"status": "APPROVED"|"REJECTED"|"PAUSED"|..., "reason"?}: the verdict,
                              with a signed message_template_status_update webhook
  POST /_sim/templates/<id>/quality  {"score": "GREEN"|"YELLOW"|"RED"}: message_template_quality_update
  POST /_sim/reset            forget everything and cancel pending deliveries
  GET  /_sim/conversation?wa_id=   the thread for the chat page at ``/``
  GET  /_sim/health           {"ok": true} once the server answers

Sends are checked as Meta checks them; with ``enforce_service_window`` (``SIMULATOR_ENFORCE_SERVICE_WINDOW``,
on in ``make dev``) anything but a template sent 24 h or more after the user's last message (by the
simulator's clock) is refused with 131047. A template send must name an APPROVED template in its
language and give exactly the parameters it asks for (132001, 132015, 132000 otherwise). Every
``sent`` and ``delivered`` status carries ``pricing`` as Meta bills it: a template by its category,
anything else as a ``service`` message (billed since October 2026; ``bill_service_messages``).

WAHA mode (``waha_webhook_url`` set): a second business number served as a WAHA session, with
WAHA's API on the same server (``X-Api-Key``): POST /api/sendText, /api/sendSeen, /api/startTyping,
/api/stopTyping, GET /api/files/<session>/<file>; ``/_sim/inbound`` with ``"provider": "waha"``
writes to it (signed ``message`` and ``message.any`` webhooks to ``waha_webhook_url``), every send
is followed by ``message.any`` (fromMe) and ``message.ack`` SERVER, DEVICE, READ webhooks;
POST /_sim/waha/business-echo {"to","text"} is the business typing on its own phone;
GET /_sim/waha/deliveries lists its webhook attempts; ``/_sim/conversation?provider=waha``.

Inside the package, one module per concern: ``config`` (settings), ``state`` (what the parts share),
``graph`` (sends, mark-read, typing), ``templates`` (the catalogue, reviews, template sends), ``statuses`` (status webhooks of sent messages), ``users`` (what
users write), ``identities`` (BSUIDs, usernames, hidden phones), ``coexistence`` (the Business app's
echoes and history sync), ``webhooks`` (signed delivery, retries, redelivery, raw bodies, the handshake),
``media`` (the media host), ``waha`` (WAHA mode), ``faults`` (error switches), ``interactive`` (button
and list checks), ``wire``
(Meta's formats), ``simulator`` (the parts
composed), ``app`` and ``control`` (HTTP), ``cli`` (``python -m local.simulator``).
"""

from local.simulator.app import create_app, graph_api_url, start_simulator, waha_api_url
from local.simulator.config import (
    DEFAULT_ACCESS_TOKEN,
    DEFAULT_API_VERSION,
    DEFAULT_APP_SECRET,
    DEFAULT_DISPLAY_PHONE_NUMBER,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_PORT,
    DEFAULT_USER_NAME,
    DEFAULT_USER_WA_ID,
    DEFAULT_VERIFY_TOKEN,
    DEFAULT_WABA_ID,
    SimulatorConfig,
)
from local.simulator.faults import Fault
from local.simulator.media import MediaItem
from local.simulator.simulator import WhatsAppSimulator
from local.simulator.state import SimulatorError

__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "DEFAULT_API_VERSION",
    "DEFAULT_APP_SECRET",
    "DEFAULT_DISPLAY_PHONE_NUMBER",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_PORT",
    "DEFAULT_USER_NAME",
    "DEFAULT_USER_WA_ID",
    "DEFAULT_VERIFY_TOKEN",
    "DEFAULT_WABA_ID",
    "Fault",
    "MediaItem",
    "SimulatorConfig",
    "SimulatorError",
    "WhatsAppSimulator",
    "create_app",
    "graph_api_url",
    "start_simulator",
    "waha_api_url",
]
