"""Which business numbers have documents, remembered for a while by each instance.

Every reply asks, and most answers do not change for hours; asking Firestore each time would
cost every reply a query, on deployments without a knowledge base too. So an instance keeps
each answer for `ttl_seconds`: a document added to a number that had none serves its replies
within that time (the Knowledge page says so), and a number that lost its last document costs
a search that finds nothing until then.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from google.cloud import firestore

from shared.store import knowledge as store

TTL_SECONDS = 30.0


class KnowledgeScopes:
    def __init__(self, ttl_seconds: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, tuple[bool, float]] = {}

    def has_documents(self, db: firestore.Client, phone_number_id: str) -> bool:
        now = self._clock()
        with self._lock:
            known = self._known.get(phone_number_id)
        if known is not None and now - known[1] < self._ttl:
            return known[0]
        answer = store.has_documents(db, phone_number_id)
        with self._lock:
            self._known[phone_number_id] = (answer, now)
        return answer
