"""The champion alias, moved only to a version that proved it serves and scores no worse."""

import hashlib

import dagster as dg
import pandas as pd

from iris_assets import metadata_keys as keys
from iris_assets.assets._champion import Champion, Decision, decide
from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.assets.training import accuracy
from iris_assets.config import ChampionConfig
from iris_assets.model_names import alias_uri
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry, RegisteredVersion


@dg.asset(group_name=GROUP, kinds={"mlflow"}, retry_policy=TRANSIENT_FAILURES)
@transient_only
def champion_model(
    context: dg.AssetExecutionContext,
    config: ChampionConfig,
    registry: ModelRegistry,
    postgres: PostgresResource,
    registered_model: RegisteredVersion,
    valid_df: pd.DataFrame,
) -> dg.MaterializeResult[Champion]:
    """Moves the alias to the new version when it scores at least as well as the current holder,
    re-scored on the same valid rows; a holder that no longer loads is replaced.

    Runs only after the blocking check proved the new version loads and predicts. Concurrent runs
    take turns (a PostgreSQL advisory lock), so the alias ends on the best of them.
    """
    name, alias = registered_model.model_name, config.alias
    with (
        postgres.advisory_lock(f"{name}@{alias}"),
        registry.within_deadline("re-scoring the champion and moving the alias"),
    ):
        holder = registry.holder(name, alias)
        holder_acc, holder_error = _rescore(registry, holder, registered_model, valid_df)
        if holder_error is not None:
            context.log.warning(
                f"The {alias} version {holder} of {name} no longer loads or predicts "
                f"({holder_error}); the new version replaces it."
            )
        decision = decide(registered_model, holder, holder_acc, holder_error)
        if decision.promoted:
            registry.promote(name, alias, registered_model.version)
        rows = _rows(valid_df)
        registry.annotate(registered_model, _record(alias, holder, holder_acc, decision, rows))
    if decision.promoted or holder is None or holder_acc is None:
        version, valid_acc = registered_model.version, registered_model.valid_acc
    else:
        version, valid_acc = holder, holder_acc
    champion = Champion(name, alias, version, valid_acc, promoted=decision.promoted)
    context.log.info(
        f"{alias} {'moved to' if decision.promoted else 'stays on'} version {champion.version} "
        f"of {name}: {decision.reason}"
    )
    metadata = _metadata(registered_model, champion, holder, holder_acc, decision, valid_df, rows)
    return dg.MaterializeResult(value=champion, metadata=metadata)


def _rescore(
    registry: ModelRegistry,
    holder: int | None,
    challenger: RegisteredVersion,
    valid_df: pd.DataFrame,
) -> tuple[float | None, str | None]:
    """The holder's accuracy on the challenger's valid rows, or why it could not be had."""
    if holder is None or holder == challenger.version:
        return None, None
    try:
        model = registry.load(challenger.model_name, holder, "loading the champion to re-score it")
        return accuracy(model, valid_df), None
    except Exception as error:  # whatever breaks loading or predicting disqualifies the holder
        return None, f"{type(error).__name__}: {error}"


def _rows(valid_df: pd.DataFrame) -> str:
    """Which iris_data rows the scores were measured on: count, id range and a digest of the ids
    (short enough for a tag at any `limit`; data.csv of the run lists them)."""
    ids = sorted(int(i) for i in valid_df.index)
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:12]
    span = f"ids {ids[0]}-{ids[-1]}" if ids else "no ids"
    return f"{len(ids)} valid rows of iris_data, {span}, sha256 of the ids {digest}"


def _record(
    alias: str,
    holder: int | None,
    holder_acc: float | None,
    decision: Decision,
    rows: str,
) -> dict[str, str]:
    """The comparison as tags, for the challenger's model version and its MLflow run."""
    record = {
        f"{alias}.decision": "promoted" if decision.promoted else "not promoted",
        f"{alias}.reason": decision.reason,
        f"{alias}.rows": rows,
    }
    if holder is not None:
        record[f"{alias}.previous_version"] = str(holder)
    if holder_acc is not None:
        record[f"{alias}.previous_valid_acc_on_these_rows"] = f"{holder_acc:.6f}"
    return record


def _metadata(
    challenger: RegisteredVersion,
    champion: Champion,
    holder: int | None,
    holder_acc: float | None,
    decision: Decision,
    valid_df: pd.DataFrame,
    rows: str,
) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        keys.MODEL_NAME: dg.MetadataValue.text(challenger.model_name),
        keys.CHAMPION_ALIAS: dg.MetadataValue.text(champion.alias),
        keys.PROMOTED: dg.MetadataValue.bool(decision.promoted),
        "reason": dg.MetadataValue.text(decision.reason),
        "champion_version": dg.MetadataValue.int(champion.version),
        "champion_uri": dg.MetadataValue.text(alias_uri(champion.model_name, champion.alias)),
        "challenger_version": dg.MetadataValue.int(challenger.version),
        "challenger_valid_acc": dg.MetadataValue.float(challenger.valid_acc),
        "valid_rows": dg.MetadataValue.int(len(valid_df)),
        "valid_row_ids": dg.MetadataValue.text(rows),
    }
    if holder is not None and holder != challenger.version:
        metadata[keys.PREVIOUS_CHAMPION_VERSION] = dg.MetadataValue.int(holder)
    if holder_acc is not None:
        metadata[keys.PREVIOUS_CHAMPION_VALID_ACC] = dg.MetadataValue.float(holder_acc)
    return metadata
