"""The package every function imports: configuration, WhatsApp models, Firestore, Pub/Sub, AI, media."""
