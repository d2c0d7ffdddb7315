"""Files as the system reads them, for every function that takes them in: the table of formats
(`formats`), the one error that means "this file will never work" (`errors`), and the text of
documents (`documents`: PDF, Word, plain text and Markdown, with the caps that keep a hostile file
cheap). The media function prepares customers' documents with it; the dashboard reads the
business's own documents for the knowledge base with the same code.
"""
