"""Image keys: every spelling of one S3 object becomes the same ``s3://bucket/key``.

Ground Truth writes ``s3://`` URIs, but exports and hand-made manifests also carry S3 https
URLs (virtual-hosted or path style, with or without a region) and percent-encoded names.
Rekognition only accepts ``s3://``, and treats two spellings as two images, so keys are
normalised before merging: scheme lower-cased, https URLs rewritten, ``%XX`` escapes decoded.

Decoding ``%XX`` in ``s3://`` URIs too is a choice: a key that really contains ``%20`` is rare,
while URL-encoded keys (S3 event notifications, browser copies) are common.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from gtmerge.errors import quoted
from gtmerge.rekognition import MAX_KEY_BYTES

#: S3's longest bucket name
MAX_BUCKET_CHARS = 63


class InvalidKey(ValueError):
    """A reference that cannot be turned into an S3 image key."""


# bucket.s3.amazonaws.com, bucket.s3.us-west-2.amazonaws.com, bucket.s3-us-west-2.amazonaws.com,
# bucket.s3.dualstack.us-west-2.amazonaws.com, and the .com.cn partition.
_VIRTUAL_HOST = re.compile(
    r"^(?P<bucket>.+)\.s3(?:[.-]dualstack)?(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$"
)
_PATH_HOST = re.compile(r"^s3(?:[.-]dualstack)?(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$")


#: ASCII control characters, NUL included: AWS tells to avoid them in keys, S3's XML listings
#: cannot carry them, and a NUL would cut the name short in many a tool.
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


def control_character_problem(ref: str) -> str | None:
    """Why ``ref`` cannot name an image because of a control character in it, if it has one."""
    found = CONTROL_CHARACTER.search(ref)
    if found is None:
        return None
    return f"contains a control character (U+{ord(found.group()):04X})"


def normalise_key(ref: str) -> str:
    """Return the canonical ``s3://bucket/key`` for an image reference.

    Raises :class:`InvalidKey` with a readable reason when ``ref`` is not an S3 object.
    """
    if ref.startswith("s3://") and "%" not in ref and ref.isprintable():  # the common case
        bucket_end = ref.find("/", 5)
        if (
            5 < bucket_end <= 5 + MAX_BUCKET_CHARS
            and len(ref) - bucket_end <= MAX_KEY_BYTES // 4
            and bucket_end < len(ref) - 1
        ):
            return ref  # no object key of up to 256 characters is over 1,024 bytes
    key = _normalise(ref)
    problem = control_character_problem(key) or _length_problem(key)
    if problem is not None:
        raise InvalidKey(f"source-ref {_shown(ref)} {problem}")
    return key


def _length_problem(key: str) -> str | None:
    """Why the bucket or the object key of a normalised ``key`` is too long for S3."""
    bucket_end = key.find("/", 5)
    if bucket_end - 5 > MAX_BUCKET_CHARS:
        return f"has a bucket name of {bucket_end - 5:,} characters, over the 63 S3 allows"
    name = key[bucket_end + 1 :]
    if len(name) <= MAX_KEY_BYTES // 4:
        return None
    size = len(name.encode("utf-8", "surrogatepass"))
    if size <= MAX_KEY_BYTES:
        return None
    return f"has an object key of {size:,} bytes, over the {MAX_KEY_BYTES:,} S3 allows"


def _normalise(ref: str) -> str:
    scheme, sep, rest = ref.partition("://")
    if not sep:
        raise InvalidKey(f"source-ref {_shown(ref)} is not an s3:// URI")
    scheme = scheme.lower()
    if scheme == "s3":
        bucket, slash, key = rest.partition("/")
        if not bucket or not slash or not key:
            raise InvalidKey(f"source-ref {_shown(ref)} has no bucket or no object key")
        return f"s3://{bucket}/{_decode(key, ref)}"
    if scheme in ("https", "http"):
        return _from_url(ref)
    raise InvalidKey(f"source-ref {_shown(ref)} is not an s3:// URI")


def bucket_of(key: str) -> str:
    """The bucket of a normalised key."""
    return key[5:].partition("/")[0]


def join_key(root: str, name: str) -> str:
    """Resolve ``name`` (a relative file name or a full URI) against ``root`` and normalise it.

    With a root, a full URI must name the root's bucket: an export must not be able to point
    a dataset at another bucket than the one its user chose.
    """
    if "://" in name:
        key = normalise_key(name)
        if root and bucket_of(key) != bucket_of(normalise_key(root.rstrip("/") + "/_")):
            raise InvalidKey(f"{_shown(name)} is outside the image root's bucket ({_shown(root)})")
        return key
    if not root:
        raise InvalidKey(
            f"{_shown(name)} is a relative name and no image root was given (--image-root)"
        )
    return normalise_key(root.rstrip("/") + "/" + name.lstrip("/"))


def _from_url(ref: str) -> str:
    parts = urlsplit(ref)
    host = (parts.hostname or "").lower()
    path = parts.path.lstrip("/")
    virtual = _VIRTUAL_HOST.match(host)
    if virtual:
        bucket, key = virtual.group("bucket"), path
    elif _PATH_HOST.match(host):
        bucket, _, key = path.partition("/")
    else:
        raise InvalidKey(f"source-ref {_shown(ref)} is not an S3 URL")
    if not bucket or not key:
        raise InvalidKey(f"source-ref {_shown(ref)} has no bucket or no object key")
    return f"s3://{bucket}/{_decode(key, ref)}"


def _shown(ref: str) -> str:
    """A reference as error messages show it: without a query string, which for a presigned
    URL holds a signature and a credential."""
    return quoted(ref.partition("?")[0])


def _decode(key: str, ref: str) -> str:
    if "%" not in key:
        return key
    try:
        return unquote(key, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidKey(
            f"source-ref {_shown(ref)} has percent-escapes that are not UTF-8"
        ) from exc
