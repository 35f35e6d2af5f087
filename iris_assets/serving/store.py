"""The registry the server follows: where it is, and what the alias points at there or why
nothing can serve yet."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iris_assets import settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class Store:
    """The tracking store and how messages name it (never with a password)."""

    uri: str
    name: str

    def scrub(self, text: str) -> str:
        """`text` in one line, the store's URI in it without credentials: MLflow's errors quote
        the URI as given."""
        return " ".join(text.split()).replace(self.uri, settings.without_credentials(self.uri))


def tracking_store() -> Store:
    """The tracking store as the graph resolves it: an unset MLFLOW_TRACKING_URI is the embedded
    store under IRIS_HOME."""
    from iris_assets import embedded

    resolved = settings.resolve()[settings.TRACKING_URI.name]
    if resolved.value is None:
        uri = embedded.tracking_uri()
        return Store(uri, f"the embedded MLflow store {uri} ({resolved.origin})")
    public = settings.without_credentials(resolved.value)
    return Store(resolved.value, f"the MLflow tracking server {public} ({resolved.origin})")


def registry_client(store: Store) -> "MlflowClient":
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


def alias_version(
    client: "MlflowClient", store: Store, model_name: str, alias: str
) -> tuple[str | None, str | None]:
    """The version the alias points at, or why there is none: no such model, no version holding
    the alias, or a store that does not answer. Each reason names the store it looked in."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        if error.get_http_status_code() != 404 and "RESOURCE_DOES_NOT_EXIST" not in str(error):
            return None, f"cannot read the registry of {store.name}: {store.scrub(str(error))}"
        known = sorted(m.name for m in client.search_registered_models(max_results=20))
        listed = ", ".join(known) if known else "none yet; a run of the graph registers one"
        return None, (
            f"{store.name} has no registered model named {model_name!r} (models there: {listed}); "
            "check --model-name"
        )
    except (RequestException, OSError) as error:
        return None, f"cannot reach {store.name}: {store.scrub(str(error))}"
    version = model.aliases.get(alias)
    if version is None:
        return None, (
            f"no version of {model_name!r} in {store.name} holds the alias {alias!r} yet; "
            "a run of the graph moves it to a version that proves itself"
        )
    return str(version), None
