"""One package per Cloud Function (`webhook`, `media`, `ai_reply`, `dashboard`), over the adapters
they share: `whatsapp`, `store` (Firestore), `bucket`, `bus` (Pub/Sub), `clients`, `config`,
`deadline` (the one time limit of a job), `files` (formats and the text of documents),
`knowledge` (the business's documents as passages, embedded and searched), `log`.

A function's package imports adapters, never another function's package (tests/test_layout.py).
"""
