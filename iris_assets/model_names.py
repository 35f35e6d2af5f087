"""The registered model as users name it: the defaults, and MLflow's URIs for one version and for
an alias. One spelling for the graph, the checks and the model server."""

DEFAULT_MODEL_NAME = "sk_model"
DEFAULT_ALIAS = "champion"


def version_uri(model_name: str, version: int | str) -> str:
    """One registered version, as loaders and the UI take it."""
    return f"models:/{model_name}/{version}"


def alias_uri(model_name: str, alias: str) -> str:
    """Whichever version holds `alias`."""
    return f"models:/{model_name}@{alias}"
