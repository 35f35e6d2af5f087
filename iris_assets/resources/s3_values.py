"""Asset values in S3, for deployments whose runs share no disk (Kubernetes Jobs, Compose).

Imported only where asset values go to S3: dagster-aws brings boto3, which a local run needs not.
"""

from typing import Any

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3PickleIOManager
from pydantic import Field

from iris_assets.resources.io_managers import missing_input, say_where_runs_go
from iris_assets.settings import IO_S3_URI, without_credentials

_NO_BUCKET = ("404", "NoSuchBucket")
"""How S3 answers a HEAD of a bucket that does not exist."""
_REFUSED = ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")
"""How S3 answers keys it does not accept for the bucket."""


class S3ValuesIOManager(S3PickleIOManager):
    """dagster-aws's S3 IO manager; a bucket that is not there fails the run at its start, and an
    input never stored fails its step at once, each saying what to do."""

    origins: dict[str, str] = Field(
        default_factory=dict,
        description="Where each setting came from, by field (s3_bucket: 'IRIS_IO_S3_URI from "
        ".env', endpoint_url, aws_access_key_id), for the messages that name it.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        say_where_runs_go(
            context, values=f"s3://{self.s3_bucket}/{self.s3_prefix} ({IO_S3_URI.name})"
        )
        if context.run is not None:
            self.check_bucket()

    def check_bucket(self) -> None:
        """Fail, naming the bucket and the setting, where the bucket is missing or refuses the
        keys. Without it, every step's first write fails with NoSuchBucket, retried twice."""
        try:
            self.s3_resource.get_client().head_bucket(Bucket=self.s3_bucket)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _NO_BUCKET:
                raise dg.Failure(
                    f"The bucket {self.s3_bucket!r} that {self._origin('s3_bucket')} names for "
                    f"asset values (s3://{self.s3_bucket}/{self.s3_prefix}) does not exist in the "
                    f"S3 store at {self._endpoint()}. Create the bucket, or point "
                    f"{IO_S3_URI.name} at one that exists.",
                    allow_retries=False,
                ) from None
            if code in _REFUSED:
                raise dg.Failure(
                    f"The S3 store at {self._endpoint()} refused access to the bucket "
                    f"{self.s3_bucket!r} for asset values ({self._origin('s3_bucket')}): {code}. "
                    f"Check the keys ({self._origin('aws_access_key_id')}, "
                    f"{self._origin('aws_secret_access_key')}) and what they may reach.",
                    allow_retries=False,
                ) from None
            raise

    def _endpoint(self) -> str:
        endpoint = without_credentials(self.s3_resource.endpoint_url or "AWS S3")
        origin = self.origins.get("endpoint_url")
        return f"{endpoint} ({origin})" if origin else endpoint

    def _origin(self, field: str) -> str:
        return self.origins.get(field) or f"{field} of the io_manager resource"

    def load_input(self, context: dg.InputContext) -> Any:
        try:
            return super().load_input(context)
        except FileNotFoundError:
            # Private: the path Dagster would have read; test_private_apis watches it.
            path = self.inner_io_manager()._get_path(context)
            raise missing_input(context, where=f"s3://{self.s3_bucket}/{path}") from None
