"""One burst's reply: the context built, the model asked, the answer stored, then sent part by part.

Runs inside a held reply lease (`job.handle_reply_job`). Every step is recorded before the next
one starts, so a redelivered job resumes where a crashed one stopped and never sends a part twice
(docs/reply-guarantees.md). Each delivery counts its attempt on the reply record before it works
on it, so deliveries that never finish (stopped at the function's timeout, out of memory) count
too: past `REPLY_MAX_JOB_ATTEMPTS` the reply fails, its messages with it, and an operator is told.
Every slow step draws from the job's one deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from shared.ai_reply import envelope, guard, handoff
from shared.ai_reply.budget import SEND_SECONDS
from shared.ai_reply.gemini import ModelAnswer, ModelRejected, ModelUnavailable, generate
from shared.ai_reply.grounding import KNOWLEDGE_SECONDS, awaited, ground
from shared.ai_reply.guard import Step
from shared.ai_reply.media_parts import MediaParts, media_parts_for, take_transcripts
from shared.ai_reply.prompt import bound_history, build_contents, lead_with
from shared.ai_reply.reengage import WINDOW_CLOSED_ERROR, reengage, window_closed
from shared.ai_reply.shaping import shape_reply
from shared.ai_reply.voice import voice_for
from shared.clients import Clients
from shared.config import Settings
from shared.deadline import Deadline, DeadlineExceeded
from shared.store import replies, stats, usage
from shared.store.outbound import add_failed_send, add_outbound
from shared.store.replies import ReplyRecord, ReplyState
from shared.store.schema import CALL, InboundStatus, SentBy, conversation_ref, message_ref
from shared.store.statuses import apply_parked_statuses
from shared.whatsapp.errors import AuthenticationFailed, OutcomeUnknown, OutsideCustomerWindow, WhatsAppError
from shared.whatsapp.interactive import FittedChoices

log = logging.getLogger(__name__)

_BACKGROUND = ThreadPoolExecutor(max_workers=4, thread_name_prefix="reply-typing")


class LeaseLost(Exception):
    """This instance no longer holds the lease; whoever holds it now finishes the work."""


class BurstReply:
    """Answers one burst of inbound messages of one conversation, within a held lease."""

    def __init__(
        self,
        settings: Settings,
        clients: Clients,
        conversation_id: str,
        conversation: dict[str, Any],
        holder: str,
        deadline: Deadline | None = None,
    ) -> None:
        self.db = clients.firestore
        self.clients = clients
        self.settings = settings
        self.conversation_id = conversation_id
        # Whom replies go to: the phone when known (Meta's advice), else the BSUID (`recipient`).
        self.wa_id = str(
            conversation.get("wa_id") or conversation.get("user_id") or conversation_id.split("_", 1)[1]
        )
        self.phone_number_id = str(conversation.get("phone_number_id") or conversation_id.split("_", 1)[0])
        self.holder = holder
        self.conversation = dict(conversation)  # as the lease transaction read it
        self.wa = clients.provider(self.phone_number_id)  # the Cloud API or this number's WAHA session
        self.deadline = deadline or Deadline.for_job(settings.reply_job_timeout_seconds)
        self._typing: Future[None] | None = None

    def answer(self, burst: list[dict[str, Any]]) -> None:
        record = replies.open_reply(self.db, self.conversation_id, burst, self.settings.retention_days)
        log_extra = {"conversation_id": self.conversation_id, "reply_id": record.id, "messages": len(burst)}
        if record.state in (ReplyState.SENT, ReplyState.FAILED, ReplyState.UNKNOWN):
            # Done before a crash that came ahead of settling the messages: settle them now.
            replies.settle(
                self.db, self.conversation_id, record, record.state, error=record.data.get("error")
            )
            return
        if record.state is ReplyState.WITHHELD:
            # Withheld before a crash that came ahead of settling the messages: settle them now.
            replies.withhold(self.db, self.conversation_id, record, record.data.get("withheld") or {})
            return
        if record.in_flight_part is not None:
            self._outcome_unknown(record, "an earlier attempt stopped while sending this reply")
            return
        attempts = replies.begin_attempt(self.db, record)
        if attempts > self.settings.reply_max_job_attempts:
            self._give_up(record, attempts - 1)
            return
        if (
            not record.sent_wamids
            and self.settings.has_service_window(self.phone_number_id)
            and window_closed(self.conversation)
        ):
            self._window_closed(record, "known before sending")
            return
        try:
            if record.state is ReplyState.GENERATING:
                step = self._guard(record, burst)
                if step is Step.WITHHOLD:
                    return
                if step is Step.ANSWER:
                    answer = self._generate(record, burst)
                    if answer is None:
                        return
                    log.info("reply generated", extra={**log_extra, "finish_reason": answer.finish_reason})
            self._send(record, burst)
        except (LeaseLost, AuthenticationFailed):
            raise
        except Exception as exc:
            replies.record_error(record, str(exc) or type(exc).__name__)  # the next delivery retries
            raise

    def _give_up(self, record: ReplyRecord, tries: int) -> None:
        """Every attempt allowed began and none finished the reply: failed, an operator is told."""
        last = (
            (record.data.get("error") or {}).get("title")
            if isinstance(record.data.get("error"), dict)
            else None
        )
        detail = f"the last one failed: {last}" if last else "the last one was stopped before it finished"
        log.error(
            "reply attempts used up; the reply is failed",
            extra={"conversation_id": self.conversation_id, "reply_id": record.id, "attempts": tries},
        )
        self._fail(
            record,
            {
                "code": "attempts_exhausted",
                "title": "The reply could not be finished",
                "detail": f"{tries} tries did not finish it; {detail} (out of time or memory, or an outage)",
            },
        )

    # -- before the model --------------------------------------------------------------------

    def _guard(self, record: ReplyRecord, burst: list[dict[str, Any]]) -> Step:
        """Opt-out, opt-in and limits (`guard.before_model`), acted on: the burst withheld, a fixed
        text stored to be sent instead of an answer, or nothing done and the model to be asked."""
        verdict = guard.before_model(
            self.settings,
            self.db,
            conversation_id=self.conversation_id,
            phone_number_id=self.phone_number_id,
            reply_id=record.id,
            burst=burst,
        )
        if verdict.step is Step.WITHHOLD:
            replies.withhold(
                self.db, self.conversation_id, record, verdict.reason or {}, conversation=verdict.conversation
            )
            return verdict.step
        if verdict.step is Step.SAY:
            replies.save_canned(
                self.db,
                record,
                verdict.text,
                str(verdict.wording),
                conversation_id=self.conversation_id,
                reason=verdict.reason,
            )
        if verdict.conversation and (verdict.conversation.get("limited") or self.conversation.get("limited")):
            conversation_ref(self.db, self.conversation_id).update(verdict.conversation, **CALL)
            self.conversation.update(verdict.conversation)
        return verdict.step

    # -- generating --------------------------------------------------------------------------

    def _generate(self, record: ReplyRecord, burst: list[dict[str, Any]]) -> ModelAnswer | None:
        # The Graph API call runs while the context is built and the model thinks; _send waits
        # for it, so an invalid token still stops the reply before anything is sent.
        self._typing = _BACKGROUND.submit(self._show_typing, burst[-1])
        media_parts = media_parts_for(self.clients, self.deadline)
        try:
            last_attempt = record.attempts >= self.settings.reply_max_job_attempts
            search = _BACKGROUND.submit(
                ground, self.clients, self.settings, self.phone_number_id, burst, last_attempt=last_attempt
            )
            # The number's settings are read while the context is built: no wait of their own.
            voice_read = _BACKGROUND.submit(voice_for, self.db, self.phone_number_id, self.settings)
            contents = self._contents(burst, media_parts)  # may upload media to the Files API
            voice = voice_read.result()
            grounding = awaited(
                search,
                self.deadline.share(KNOWLEDGE_SECONDS, "the knowledge search"),
                last_attempt=last_attempt,
            )
            if (knowledge := grounding.part()) is not None:
                lead_with(contents, knowledge)
            answer = generate(
                self.clients.genai,
                contents,
                settings=self.settings,
                system_instruction=voice.system_instruction,
                response_schema=envelope.SCHEMA,
                deadline=self.deadline,
            )
        except ModelUnavailable as exc:
            if record.attempts < self.settings.reply_max_job_attempts:
                raise  # Pub/Sub redelivers the job after its backoff
            self._fail(
                record, {"code": "model_unavailable", "title": "The model did not answer", "detail": str(exc)}
            )
            return None
        except ModelRejected as exc:
            log.error(
                "model refused the request",
                extra={"conversation_id": self.conversation_id, "error": str(exc)},
            )
            self._fail(
                record,
                {"code": "model_rejected", "title": "The model refused the request", "detail": str(exc)},
            )
            return None
        read = envelope.read_envelope(answer.text or "")
        if not read.parsed:
            log.warning(
                "the model's answer was not the JSON envelope; sent as plain text",
                extra={"conversation_id": self.conversation_id, "error": read.error},
            )
        transcripts, model_text = take_transcripts(read.text)
        self._store_transcripts(transcripts, media_parts)
        handing_over = read.handoff_reason is not None and handoff.honoured(self.conversation, burst)
        shaped = shape_reply(
            model_text,
            read.choices,
            fallback=voice.fallback_reply,
            handoff_message=voice.handoff_message if handing_over else None,
        )
        fields = {
            "model": answer.model,
            "text": shaped.text,
            "model_text": answer.text,
            "fallback": shaped.fallback,
            "finish_reason": answer.finish_reason,
            "block_reason": answer.block_reason,
            "input_tokens": answer.input_tokens,
            "output_tokens": answer.output_tokens,
            "thinking_tokens": answer.thinking_tokens,
            "cached_tokens": answer.cached_tokens,
            "thinking_level": self.settings.gemini_thinking_level.lower(),
            "latency_ms": answer.latency_ms,
            "envelope_error": read.error,
            "choices": shaped.choices.as_record() if shaped.choices else None,
            "handoff": {"reason": read.handoff_reason, "honoured": handing_over}
            if read.handoff_reason
            else None,
            **grounding.record(read.sources),
        }
        with_answer = [self._spend(record, answer)]
        if handing_over:
            reason = read.handoff_reason or ""
            with_answer.append(
                lambda batch: handoff.add_handoff(
                    batch, self.db, self.conversation_id, reason=reason, reply_id=record.id
                )
            )
            log.info(
                "the assistant handed the conversation over", extra={"conversation_id": self.conversation_id}
            )
        if len(shaped.parts) > 1:
            log.warning(
                "the answer did not fit one WhatsApp message; sent in parts",
                extra={
                    "conversation_id": self.conversation_id,
                    "reply_id": record.id,
                    "parts": len(shaped.parts),
                },
            )
        replies.save_answer(self.db, record, fields, shaped.parts, with_answer=with_answer)
        return answer

    def _spend(self, record: ReplyRecord, answer: ModelAnswer) -> Callable[[Any], None]:
        """The answer's cost on the limits' counters (`usage.add_model_spend`), with the answer."""
        spend = usage.ModelSpend.of(
            self.settings,
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            thinking_tokens=answer.thinking_tokens,
        )
        return lambda batch: usage.add_model_spend(
            batch,
            self.db,
            conversation_id=self.conversation_id,
            phone_number_id=self.phone_number_id,
            spend=spend,
            shard_key=record.id,
        )

    def _store_transcripts(self, transcripts: dict[int, str], media_parts: MediaParts) -> None:
        for number, transcript in transcripts.items():
            if message_id := media_parts.voice_notes.get(number):
                message_ref(self.db, self.conversation_id, message_id).update(
                    {"media.transcript": transcript}, **CALL
                )

    def _contents(self, burst: list[dict[str, Any]], media_parts: MediaParts) -> list[Any]:
        history_limit = self.settings.reply_history_turns + len(burst)
        recent = replies.recent_messages(self.db, self.conversation_id, history_limit)
        burst_ids = {m["id"] for m in burst}
        history = bound_history(
            [m for m in recent if m["id"] not in burst_ids and m.get("status") != InboundStatus.IGNORED],
            self.settings.reply_history_turns,
            self.settings.reply_history_max_chars,
        )
        quotes = replies.quoted_texts(
            self.db, self.conversation_id, {m["reply_to"] for m in burst if m.get("reply_to")}
        )
        return build_contents(history, burst, quotes, media_parts)

    def _show_typing(self, last: dict[str, Any]) -> None:
        """Blue ticks and '...typing' while the model works; a failure here must not cost the reply."""
        try:
            self.wa.mark_read(self.phone_number_id, last["id"], typing=True, deadline=self.deadline)
        except AuthenticationFailed:
            raise
        except WhatsAppError as exc:
            log.warning(
                "could not mark messages read",
                extra={"error": repr(exc), "conversation_id": self.conversation_id},
            )

    # -- sending -----------------------------------------------------------------------------

    def _send(self, record: ReplyRecord, burst: list[dict[str, Any]]) -> None:
        if self._typing is not None:
            self._typing.result()
        last = burst[-1]
        choices = record.data.get("choices")
        fitted = FittedChoices.from_record(choices) if isinstance(choices, dict) else None
        for index, part in enumerate(record.parts):
            if f"p{index}" in record.sent_wamids:
                continue
            # Not started without the time to hear WhatsApp's answer: a redelivery sends it.
            self.deadline.check(f"sending part {index + 1} of the reply", needs=SEND_SECONDS)
            if not replies.begin_part(self.db, record, self.conversation_id, self.holder, index):
                raise LeaseLost(record.id)
            interactive = fitted if fitted is not None and index == len(record.parts) - 1 else None
            try:
                wamid = self._send_part(part, interactive, index, record, last)
            except OutcomeUnknown as exc:
                self._outcome_unknown(record, str(exc))
                return
            except DeadlineExceeded:
                replies.part_not_sent(record)  # no time was left to send it at all
                raise
            except WhatsAppError as exc:
                replies.part_not_sent(record)
                if exc.retryable or isinstance(exc, AuthenticationFailed):
                    log.error(
                        "sending the reply failed; the job will be retried",
                        extra={"conversation_id": self.conversation_id, "code": exc.code, "error": str(exc)},
                    )
                    raise
                self._refused(record, index, part, exc)
                if isinstance(exc, OutsideCustomerWindow):
                    reengage(self.settings, self.clients, self.conversation_id)
                return
            self._record_part(record, index, wamid, part, burst, interactive)
        if record.state is not ReplyState.SENT:
            # Every part went out in an earlier delivery that stopped before closing the reply.
            replies.settle(self.db, self.conversation_id, record, ReplyState.SENT, counted=self._sent(burst))

    def _send_part(
        self,
        part: str,
        interactive: FittedChoices | None,
        index: int,
        record: ReplyRecord,
        last: dict[str, Any],
    ) -> str:
        """One part out: the last one carries the choices as buttons or a list, when there are any."""
        reply_to = last["id"] if index == 0 else None
        callback = f"{record.id}:{index}"
        if interactive is not None:
            return self.wa.send_interactive(
                self.phone_number_id,
                self.wa_id,
                interactive.payload(part),
                reply_to=reply_to,
                callback_data=callback,
                deadline=self.deadline,
            )
        return self.wa.send_text(
            self.phone_number_id,
            self.wa_id,
            part,
            reply_to=reply_to,
            callback_data=callback,
            deadline=self.deadline,
        )

    def _record_part(
        self,
        record: ReplyRecord,
        index: int,
        wamid: str,
        part: str,
        burst: list[dict[str, Any]],
        interactive: FittedChoices | None = None,
    ) -> None:
        """Part `index` went out as `wamid`: its outbound message, the record's progress and, on the
        last part, the reply's close, in one batch."""
        batch = self.db.batch()
        add_outbound(
            batch,
            self.db,
            conversation_id=self.conversation_id,
            wamid=wamid,
            text=part,
            sent_by=SentBy.AI,
            to=self.wa_id,
            reply_to=burst[-1]["id"] if index == 0 else None,
            ai_response_id=record.id,
            interactive=interactive.as_record() if interactive is not None else None,
        )
        replies.add_part_sent(batch, record, index, wamid)
        if index == len(record.parts) - 1:
            replies.add_settle(
                batch, self.db, self.conversation_id, record, ReplyState.SENT, counted=self._sent(burst)
            )
        batch.commit(**CALL)
        apply_parked_statuses(self.db, self.conversation_id, wamid)

    @staticmethod
    def _sent(burst: list[dict[str, Any]]) -> dict[str, stats.Number]:
        """How long the customer waited: from the first message of the burst to the reply's last part."""
        first_received = min((m["received_at"] for m in burst if m.get("received_at")), default=None)
        waited_ms = (datetime.now(UTC) - first_received).total_seconds() * 1000 if first_received else 0
        return stats.ai_reply_sent(reply_latency_ms=waited_ms)

    def _refused(self, record: ReplyRecord, index: int, part: str, exc: WhatsAppError) -> None:
        """WhatsApp will not take this message (outside the 24-hour window, invalid recipient...)."""
        log.error(
            "WhatsApp refused the reply",
            extra={"conversation_id": self.conversation_id, "code": exc.code, "error": str(exc)},
        )
        batch = self.db.batch()
        add_failed_send(
            batch,
            self.db,
            conversation_id=self.conversation_id,
            record_id=f"failed-{record.id}-{index}",
            text=part,
            sent_by=SentBy.AI,
            to=self.wa_id,
            error=exc.as_dict(),
            ai_response_id=record.id,
        )
        replies.add_settle(
            batch,
            self.db,
            self.conversation_id,
            record,
            ReplyState.FAILED,
            error=exc.as_dict(),
            counted=self._failures(record),
        )
        batch.commit(**CALL)

    def _window_closed(self, record: ReplyRecord, how: str) -> None:
        """The customer last wrote more than 24 hours ago: no free-form answer can reach them. The
        reply fails (no model call, no send) and the re-engagement decides what happens."""
        log.warning(
            "the 24-hour window is closed; the answer is not sent",
            extra={"conversation_id": self.conversation_id, "reply_id": record.id, "how": how},
        )
        self._fail(record, WINDOW_CLOSED_ERROR)
        reengage(self.settings, self.clients, self.conversation_id)

    def _outcome_unknown(self, record: ReplyRecord, detail: str) -> None:
        log.error(
            "reply may or may not have been delivered; not resent",
            extra={"reply_id": record.id, "detail": detail},
        )
        error = {
            "code": "outcome_unknown",
            "title": "The reply may not have been delivered",
            "detail": detail,
        }
        replies.settle(
            self.db,
            self.conversation_id,
            record,
            ReplyState.UNKNOWN,
            error=error,
            counted=self._failures(record),
        )

    def _fail(self, record: ReplyRecord, error: dict[str, Any]) -> None:
        replies.settle(
            self.db,
            self.conversation_id,
            record,
            ReplyState.FAILED,
            error=error,
            counted=self._failures(record),
        )

    @staticmethod
    def _failures(record: ReplyRecord) -> dict[str, stats.Number]:
        return stats.message_failed("inbound", len(record.message_ids))
