"""The webhook function: Meta's handshake and signed deliveries (`http`), stored and turned into
jobs (`ingest`)."""
