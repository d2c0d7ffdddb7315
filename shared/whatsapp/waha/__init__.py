"""WAHA, the self-hosted WhatsApp HTTP API: its webhooks (signature, events -> our models) and the
client of its send, seen, typing and file endpoints. The Cloud API's counterparts are the modules
one level up; `shared/whatsapp/provider.py` is where the two meet."""
