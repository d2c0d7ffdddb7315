"""The private media bucket: objects named by their content, written once, read back as streams.

Layout: ``conversations/{conversation_id}/{original|derived}/{sha256}{suffix}``. Naming by the
SHA-256 of the bytes makes every write idempotent: a redelivered job finds its object already
there and uploads nothing, and WhatsApp's own ``sha256`` for a media id names the original before
it is downloaded (see ``MediaBucket.find``). Nothing here grants access: the bucket is private
with uniform bucket-level access (set by Terraform), and this module never touches ACLs.

Retention: every object carries a `customTime`, the last time a message referenced it (set when
it is first stored, moved forward whenever `put` finds it again for a newer message). The
bucket's lifecycle rule deletes an object `RETENTION_DAYS` after its `customTime`
(terraform/storage.tf), so a photo sent again in a later message lives as long as that message,
and no object outlives the last message that references it by more than a day.

Errors from the storage client propagate unchanged: they are transient for the caller's retry.
A caller working to a job's `Deadline` passes it, and no request waits past what is left of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from shared.deadline import Deadline

if TYPE_CHECKING:
    from google.cloud import storage

Folder = Literal["original", "derived"]
ORIGINAL: Folder = "original"
DERIVED: Folder = "derived"
ROOT = "conversations"
DEFAULT_TIMEOUT_SECONDS = 60.0
READ_CHUNK_BYTES = 1024 * 1024
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024  # a multiple of 256 KiB, as resumable uploads require
_HASH_CHUNK_BYTES = 1024 * 1024
_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
RETENTION_GRANULARITY = timedelta(days=1)  # the lifecycle rule counts whole days


@dataclass(frozen=True)
class StoredObject:
    gcs_uri: str
    object_name: str
    size_bytes: int
    sha256_hex: str
    content_type: str
    uploaded: bool  # False when the object was already stored (a redelivery, or a duplicate file)


class MediaBucket:
    """Content-addressed media objects in one private bucket."""

    def __init__(
        self, client: storage.Client, bucket_name: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        if not bucket_name:
            raise ValueError("a media bucket name is required (MEDIA_BUCKET)")
        self._client = client
        self.bucket_name = bucket_name
        self._bucket = client.bucket(bucket_name)
        self._timeout = timeout

    # --- writing --------------------------------------------------------------------------------

    def put(
        self,
        conversation_id: str,
        data_or_path: bytes | Path,
        content_type: str,
        suffix: str,
        *,
        folder: Folder = ORIGINAL,
        deadline: Deadline | None = None,
    ) -> StoredObject:
        """Store bytes or a file once; a second call with the same content uploads nothing."""
        sha256_hex, size = sha256_of(data_or_path)
        name = object_name(conversation_id, sha256_hex, suffix, folder)
        now = datetime.now(UTC)
        existing = self._bucket.get_blob(name, timeout=self._within(deadline))
        if existing is not None:
            self._referenced(existing, now, deadline)
            return self._stored(existing, sha256_hex, uploaded=False)
        # Files above 8 MiB go up resumably, by default in 100 MiB chunks read into memory;
        # smaller chunks keep a 100 MB document from costing 100 MB of RAM.
        blob = self._bucket.blob(name, chunk_size=UPLOAD_CHUNK_BYTES)
        blob.metadata = {"sha256": sha256_hex}
        blob.custom_time = now
        from google.api_core.exceptions import PreconditionFailed

        try:
            # if_generation_match=0: create only. Two instances racing on one redelivered job
            # both pass the check above; the slower one gets 412 and keeps the winner's object.
            # The precondition also makes the upload safe for the client library to retry.
            if isinstance(data_or_path, bytes):
                blob.upload_from_string(
                    data_or_path,
                    content_type=content_type,
                    if_generation_match=0,
                    timeout=self._within(deadline),
                )
            else:
                blob.upload_from_filename(
                    str(data_or_path),
                    content_type=content_type,
                    if_generation_match=0,
                    timeout=self._within(deadline),
                )
        except PreconditionFailed:
            winner = self._bucket.get_blob(name, timeout=self._within(deadline))
            if winner is None:
                raise  # created and deleted meanwhile: let the job retry from the start
            self._referenced(winner, now, deadline)
            return self._stored(winner, sha256_hex, uploaded=False)
        return StoredObject(self.uri(name), name, size, sha256_hex, content_type, uploaded=True)

    def _referenced(self, blob: storage.Blob, now: datetime, deadline: Deadline | None) -> None:
        """A newer message references `blob`: its retention starts again from now.

        GCS only lets customTime move forward; within a day nothing changes the lifecycle's
        verdict, so a redelivered job costs no second write.
        """
        if blob.custom_time is not None and now - blob.custom_time < RETENTION_GRANULARITY:
            return
        blob.custom_time = now
        blob.patch(timeout=self._within(deadline))

    # --- finding and reading --------------------------------------------------------------------

    def find(
        self,
        conversation_id: str,
        sha256_hex: str,
        *,
        folder: Folder = ORIGINAL,
        deadline: Deadline | None = None,
    ) -> StoredObject | None:
        """The stored object with this content hash (any suffix), e.g. before downloading again."""
        prefix = object_name(conversation_id, sha256_hex, "", folder)
        for blob in self._client.list_blobs(
            self._bucket, prefix=prefix, max_results=1, timeout=self._within(deadline)
        ):
            return self._stored(blob, sha256_hex, uploaded=False)
        return None

    def stat(self, gcs_uri: str) -> StoredObject | None:
        """Size and content type of a stored object (for a streaming response's headers)."""
        name = self._own_object(gcs_uri)
        blob = self._bucket.get_blob(name, timeout=self._timeout)
        if blob is None:
            return None
        return self._stored(blob, (blob.metadata or {}).get("sha256", ""), uploaded=False)

    def open_read(self, gcs_uri: str, *, chunk_size: int = READ_CHUNK_BYTES) -> IO[bytes]:
        """A file-like reader that fetches ``chunk_size`` bytes at a time (ranged requests)."""
        blob = self._bucket.blob(self._own_object(gcs_uri))
        return blob.open("rb", chunk_size=chunk_size, timeout=self._timeout)

    def read_bytes(self, gcs_uri: str, *, deadline: Deadline | None = None) -> bytes:
        """The whole object; for derived artefacts (small), not for originals of any size."""
        blob = self._bucket.blob(self._own_object(gcs_uri))
        return blob.download_as_bytes(timeout=self._within(deadline))

    def uri(self, name: str) -> str:
        return f"gs://{self.bucket_name}/{name}"

    # --- a customer's objects (erasure) ---------------------------------------------------------

    def conversation_objects(self, conversation_id: str, *, page_size: int = 200) -> list[str]:
        """Names of up to `page_size` objects of one conversation (erase them, then ask again)."""
        prefix = f"{ROOT}/{conversation_id}/"
        if not _CONVERSATION_ID.match(conversation_id) or conversation_id in (".", ".."):
            raise ValueError(f"unusable conversation id for an object name: {conversation_id!r}")
        blobs = self._client.list_blobs(
            self._bucket, prefix=prefix, max_results=page_size, timeout=self._timeout
        )
        return [blob.name for blob in blobs]

    def delete(self, name: str) -> bool:
        """Delete one object of the media tree; False when it was already gone."""
        from google.api_core.exceptions import NotFound

        self._own_object(self.uri(name))
        try:
            self._bucket.blob(name).delete(timeout=self._timeout)
        except NotFound:
            return False
        return True

    # --- helpers --------------------------------------------------------------------------------

    def _within(self, deadline: Deadline | None) -> float:
        """A request's timeout: the bucket's own, or less when the job's deadline is nearer."""
        return self._timeout if deadline is None else deadline.share(self._timeout, "a storage call")

    def _own_object(self, gcs_uri: str) -> str:
        """The object name of a URI in this bucket under our root; anything else is refused.

        The dashboard passes URIs read from Firestore; checking them here means a bad record can
        never make it stream an object from another bucket or outside the media tree.
        """
        bucket, name = parse_gcs_uri(gcs_uri)
        if bucket != self.bucket_name or not name.startswith(f"{ROOT}/") or ".." in name.split("/"):
            raise ValueError(f"not a media object of bucket {self.bucket_name}: {gcs_uri}")
        return name

    def _stored(self, blob: storage.Blob, sha256_hex: str, *, uploaded: bool) -> StoredObject:
        """A StoredObject from a blob whose properties were fetched (get_blob, list_blobs)."""
        return StoredObject(
            gcs_uri=self.uri(blob.name),
            object_name=blob.name,
            size_bytes=int(blob.size or 0),
            sha256_hex=sha256_hex,
            content_type=blob.content_type or "application/octet-stream",
            uploaded=uploaded,
        )


def object_name(conversation_id: str, sha256_hex: str, suffix: str, folder: Folder = ORIGINAL) -> str:
    """``conversations/{conversation_id}/{folder}/{sha256}{suffix}``, with every part checked."""
    if not _CONVERSATION_ID.match(conversation_id) or conversation_id in (".", ".."):
        raise ValueError(f"unusable conversation id for an object name: {conversation_id!r}")
    if folder not in (ORIGINAL, DERIVED):
        raise ValueError(f"folder must be {ORIGINAL!r} or {DERIVED!r}, not {folder!r}")
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256_hex!r}")
    return f"{ROOT}/{conversation_id}/{folder}/{sha256_hex}{clean_suffix(suffix)}"


def clean_suffix(suffix: str) -> str:
    """A short lowercase ``.ext``; anything else (user-controlled names) becomes ``.bin``."""
    if suffix == "":
        return ""
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    return suffix if _SUFFIX.match(suffix) else ".bin"


def parse_gcs_uri(gcs_uri: str) -> tuple[str, str]:
    if not gcs_uri.startswith("gs://"):
        raise ValueError(f"not a gs:// URI: {gcs_uri!r}")
    bucket, _, name = gcs_uri.removeprefix("gs://").partition("/")
    if not bucket or not name:
        raise ValueError(f"not a gs://bucket/object URI: {gcs_uri!r}")
    return bucket, name


def sha256_of(data_or_path: bytes | Path) -> tuple[str, int]:
    """Hex digest and size, reading a file in chunks so a 100 MB document is never in memory."""
    if isinstance(data_or_path, bytes):
        return hashlib.sha256(data_or_path).hexdigest(), len(data_or_path)
    digest = hashlib.sha256()
    size = 0
    with Path(data_or_path).open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def whatsapp_sha256_to_hex(value: str | None) -> str | None:
    """WhatsApp's ``sha256`` (base64 in webhooks; hex seen elsewhere) as lowercase hex, or None."""
    if not value:
        return None
    value = value.strip()
    if _SHA256_HEX.match(value.lower()):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(value)
        except (binascii.Error, ValueError):
            return None
    return raw.hex() if len(raw) == 32 else None
