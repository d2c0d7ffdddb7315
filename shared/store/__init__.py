"""Firestore: conversations, messages, statuses, quarantine and the reply lease (ARCHITECTURE.md)."""
