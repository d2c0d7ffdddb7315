"""Media checking, preparation and storage for the media function.

    from shared.media import MediaRejected, MediaStorage, max_bytes, prepare

    cap = max_bytes(kind)                      # enforce while streaming the download to a file
    prepared = prepare(kind, path, declared_mime, filename, voice=voice)   # or MediaRejected
    storage.put(conversation_id, path, prepared.mime_type, prepared.original_suffix)
    if prepared.derived: storage.put(conversation_id, prepared.derived.data, ..., folder="derived")

Importing this package loads no Pillow, ffmpeg, pypdf, python-docx or storage client: each is
imported inside the function that needs it.
"""

from shared.media.errors import MediaRejected, MediaTimeout, RejectCode
from shared.media.formats import describe_mime, normalize_mime
from shared.media.kinds import Kind, check_size, max_bytes
from shared.media.pipeline import Artefact, MediaLimits, ModelSource, PreparedMedia, prepare
from shared.media.sniff import check_declared_type, sniff
from shared.media.storage import MediaStorage, StoredObject, whatsapp_sha256_to_hex

__all__ = [
    "Artefact",
    "Kind",
    "MediaLimits",
    "MediaRejected",
    "MediaStorage",
    "MediaTimeout",
    "ModelSource",
    "PreparedMedia",
    "RejectCode",
    "StoredObject",
    "check_declared_type",
    "check_size",
    "describe_mime",
    "max_bytes",
    "normalize_mime",
    "prepare",
    "sniff",
    "whatsapp_sha256_to_hex",
]
