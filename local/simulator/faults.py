"""The simulator's error switches: which Graph call or delivery fails next, and how Meta would answer.

The queue that holds them (thread-safe, used up in order) is shared with the offline model.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.simulator import wire
from local.simulator.wire import Json

# "delivery" fails a send asynchronously: the call is accepted, then a "failed" status webhook follows.
FAULT_TARGETS = frozenset(
    {
        "send",
        "mark_read",
        "typing",
        "media_metadata",
        "media_download",
        "media_upload",
        "delivery",
        "waha_send",
    }
)


@dataclass
class Fault:
    """One error switch: the next ``count`` calls of ``target`` fail (or hang first)."""

    target: str
    count: int = 1
    code: int | None = None
    http_status: int | None = None
    message: str | None = None
    details: str | None = None
    hang_seconds: float = 0.0

    @classmethod
    def from_json(cls, data: Json) -> Fault:
        if not isinstance(data, dict):
            raise ValueError('a fault is a JSON object such as {"target": "send", "code": 131047}')
        target = data.get("target", "send")
        if target not in FAULT_TARGETS:
            raise ValueError(f"target must be one of {sorted(FAULT_TARGETS)}")
        fault = cls(
            target=target,
            count=int(data.get("count", 1)),
            code=int(data["code"]) if data.get("code") is not None else None,
            http_status=int(data["http_status"]) if data.get("http_status") is not None else None,
            message=data.get("message"),
            details=data.get("details"),
            hang_seconds=float(data.get("hang_seconds", 0.0)),
        )
        if target == "delivery" and fault.code is None:
            fault.code = 131026  # the usual asynchronous failure: undeliverable
        if fault.code is None and fault.http_status is None and not fault.hang_seconds:
            raise ValueError("a fault needs code, http_status or hang_seconds")
        return fault

    @property
    def fails(self) -> bool:
        return self.code is not None or self.http_status is not None

    def resolved_code(self) -> int:
        if self.code is not None:
            return self.code
        status = self.http_status or 500
        return {401: 190, 403: 10, 503: 2}.get(status, 131000 if status >= 500 else 100)

    def response(self) -> tuple[int, Json]:
        code = self.resolved_code()
        status = self.http_status or wire.graph_error(code).http_status
        return status, wire.graph_error_body(code, self.message, self.details)
