"""The ai_reply function: one reply per burst of a conversation's messages (`job`, `burst`),
from a prompt (`prompt`, `media_parts`) that Gemini answers (`gemini`), sent once."""
