"""The operator dashboard: pages rendered from Firestore, media through an authenticated proxy,
and the few actions an operator takes (pause or resume the AI, reply by hand, retry).

`functions/dashboard/main.py` builds the app once per instance with `create_dashboard` and hands
every request to it with `dispatch`.
"""

from shared.dashboard.app import create_dashboard, dispatch

__all__ = ["create_dashboard", "dispatch"]
