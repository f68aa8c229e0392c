from conftest import put_objects, read_object


def test_server_round_trip(s3):
    put_objects(s3, "fixture-bucket", {"a.txt": b"hello"})
    assert read_object(s3, "fixture-bucket", "a.txt") == b"hello"
