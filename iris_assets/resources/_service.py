"""What each resource that reaches a service shares: where its settings came from, and saying at
a run's start which service it uses and why."""

import dagster as dg
from pydantic import Field


class ServiceResource(dg.ConfigurableResource):
    """A resource on a service chosen by settings (iris_assets.settings)."""

    origins: dict[str, str] = Field(
        default_factory=dict,
        description="Where each field's value came from, by field (e.g. database_url: "
        "'IRIS_DATABASE_URL from .env'), for the messages that name it.",
    )

    def describe(self) -> str:
        """The service in use and the setting that chose it, in one line."""
        raise NotImplementedError

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None and context.log is not None:
            context.log.info(f"Using {self.describe()}")
