"""Media through the running system: send a medium as a customer, wait for its answer, read
what the model was given. Shared by the media end-to-end tests."""

from __future__ import annotations

from tests.support.system import System


def send_media(system: System, kind: str, data: bytes, mime: str, **fields) -> str:
    item = system.simulator.state.store_media(data, mime, fields.pop("filename", None))
    return system.say_spec({"type": kind, "media_id": item.id, **fields})


def inbound_once_answered(system: System, timeout: float = 40.0) -> dict:
    return system.wait_for(
        lambda: (
            (m := [x for x in system.messages() if x["direction"] == "inbound"])
            and m[0].get("status") in ("answered", "failed")
            and m[0]
        ),
        timeout=timeout,
        what="the media message to be answered",
    )


def last_model_turn_media(system: System) -> list[str]:
    return system.model_requests()[-1]["summary"]["media_types"]
