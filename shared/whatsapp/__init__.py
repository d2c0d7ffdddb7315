"""WhatsApp Cloud API: typed webhook models, parsing, signatures, the Graph API client and its errors."""
