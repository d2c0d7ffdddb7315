"""The business's own knowledge: documents an operator adds on the dashboard, split into passages
that keep their headings (`passages`), embedded with the Gemini embedding model (`embeddings`),
stored with a vector field (shared/store/knowledge.py) and searched for each reply (`retrieval`).
`reading` takes the text out of a file with the extraction the media function uses, and
`ingest` runs the whole way from an upload to stored passages, and back out on removal.
"""
