"""Page cursors: where the next page of a time-ordered list starts, as an opaque URL token.

A cursor is the sort value and the document id of the last row shown (the id breaks ties
between equal timestamps), so the next page is one query that starts after it: no offsets,
no reading and skipping earlier rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# No "..", no reserved "__x__"; "@" for WAHA's message ids (`false_<number>@c.us_<hex>`).
DOCUMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+:@-]{0,255}$")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    at: datetime
    document_id: str

    def encode(self) -> str:
        raw = json.dumps({"t": self.at.isoformat(), "id": self.document_id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            at = datetime.fromisoformat(data["t"])
            document_id = str(data["id"])
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise BadCursor(str(exc)) from None
        if not DOCUMENT_ID.match(document_id):
            raise BadCursor("bad document id")
        return cls(at if at.tzinfo else at.replace(tzinfo=UTC), document_id)
