"""Where asset values go in S3: the bucket and prefix of one URI."""

import pytest

from iris_assets.resources.s3_values import bucket_and_prefix


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://dagster/io", ("dagster", "io")),
        ("s3://dagster/io/runs/", ("dagster", "io/runs")),
        ("s3://dagster", ("dagster", "")),
    ],
)
def test_splits_bucket_from_prefix(location: str, expected: tuple[str, str]) -> None:
    """The bucket is the host; the prefix is the path without its slashes."""
    assert bucket_and_prefix(location) == expected


@pytest.mark.parametrize("location", ["dagster/io", "https://s3.example/dagster", "s3:///io"])
def test_anything_but_an_s3_uri_is_refused(location: str) -> None:
    """A value that is no s3:// URI is refused with the shape it must have."""
    with pytest.raises(ValueError, match=r"s3://<bucket>/<prefix>") as raised:
        bucket_and_prefix(location)
    assert repr(location) in str(raised.value)
