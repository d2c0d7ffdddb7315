"""The media function: download a message's media, check and prepare it, store it in the bucket.

`job.py` is the use case; the other modules are its steps (`download`, `sniff`, `kinds`, and one
module per kind of medium). Nothing outside the media function imports this package, and each
module imports Pillow, ffmpeg, pypdf or python-docx only inside the function that needs it.
"""
