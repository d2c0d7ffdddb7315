"""One package per Cloud Function (`webhook`, `media`, `ai_reply`, `dashboard`), over the adapters
they share: `whatsapp`, `store` (Firestore), `bucket`, `bus` (Pub/Sub), `clients`, `config`, `log`.

A function's package imports adapters, never another function's package (tests/test_layout.py).
"""
