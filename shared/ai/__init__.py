"""The model side of a reply: the prompt built from the conversation, and the Gemini call."""
