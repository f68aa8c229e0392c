import pytest

from gtmerge.keys import InvalidKey, join_key, normalise_key

CANONICAL = "s3://my-bucket/photos/cat 1.jpg"


@pytest.mark.parametrize(
    "ref",
    [
        "s3://my-bucket/photos/cat 1.jpg",
        "S3://my-bucket/photos/cat%201.jpg",
        "https://my-bucket.s3.amazonaws.com/photos/cat%201.jpg",
        "https://my-bucket.s3.eu-west-1.amazonaws.com/photos/cat%201.jpg",
        "https://my-bucket.s3-eu-west-1.amazonaws.com/photos/cat%201.jpg",
        "https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com/photos/cat%201.jpg",
        "https://s3.amazonaws.com/my-bucket/photos/cat%201.jpg",
        "https://s3.eu-west-1.amazonaws.com/my-bucket/photos/cat%201.jpg",
        "https://s3-eu-west-1.amazonaws.com/my-bucket/photos/cat 1.jpg",
        "HTTPS://MY-BUCKET.S3.AMAZONAWS.COM/photos/cat%201.jpg",
    ],
)
def test_every_spelling_of_one_object_is_one_key(ref: str) -> None:
    assert normalise_key(ref) == CANONICAL


def test_dotted_bucket_names_and_non_ascii_keys_survive() -> None:
    assert (
        normalise_key(
            "https://my.dotted.bucket.s3.us-east-2.amazonaws.com/f%C3%BCchse/%E7%8C%AB.png"
        )
        == "s3://my.dotted.bucket/füchse/猫.png"
    )


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("images/cat.jpg", "is not an s3:// URI"),
        ("gs://bucket/cat.jpg", "is not an s3:// URI"),
        ("s3://bucket-only", "has no bucket or no object key"),
        ("s3:///key.jpg", "has no bucket or no object key"),
        ("https://example.com/cat.jpg", "is not an S3 URL"),
        ("https://s3.amazonaws.com/bucket-only", "has no bucket or no object key"),
        ("s3://bucket/%ff.jpg", "percent-escapes that are not UTF-8"),
    ],
)
def test_references_that_are_not_s3_objects_are_refused(ref: str, reason: str) -> None:
    with pytest.raises(InvalidKey, match=reason):
        normalise_key(ref)


def test_relative_names_join_the_image_root() -> None:
    assert join_key("s3://b/train/", "a b.jpg") == "s3://b/train/a b.jpg"
    assert join_key("s3://b/train", "/sub/x.png") == "s3://b/train/sub/x.png"
    assert join_key("", "s3://other/x.png") == "s3://other/x.png"
    with pytest.raises(InvalidKey, match="--image-root"):
        join_key("", "x.png")
