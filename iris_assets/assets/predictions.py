"""The champion at work: rows of iris_data scored into iris_prediction, and how right it is live."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
import pandas as pd
import psycopg

from iris_assets import id_ranges, prediction_table, prediction_target, unscored_rows
from iris_assets.assets._champion import Champion
from iris_assets.assets._live_accuracy import live_counts
from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.assets.data import iris_data
from iris_assets.config import PredictionsConfig
from iris_assets.id_ranges import Island
from iris_assets.iris_table import FEATURES, ID, LABEL
from iris_assets.prediction_target import TableState
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_assets.unscored_rows import Unscorable

NOTHING_UNSCORABLE = Unscorable()
_REFUSED_WRITES = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)


@dataclass(frozen=True)
class Scored:
    """What one materialization scored, and how the champion does live, for the checks.

    Fields after the first four have defaults, so a value stored by an earlier release still
    loads when a check runs on its own.
    """

    rows: int
    """Rows scored by this materialization."""
    model_version: int | None
    """The champion: the version that scored them, and whose live accuracy this is."""
    live_accuracy: float | None
    """Of the champion, over every row it has scored that has a true class."""
    champion_valid_acc: float
    live_rows: int = 0
    """The rows behind `live_accuracy`."""
    run_accuracy: float | None = None
    """Over the rows scored by this materialization that have a true class."""
    unscorable: Unscorable = NOTHING_UNSCORABLE
    """Rows without a prediction that cannot be scored."""


@dg.asset(
    group_name=GROUP,
    deps=[iris_data],
    kinds={"postgres", "mlflow"},
    retry_policy=TRANSIENT_FAILURES,
)
@transient_only
def iris_predictions(
    context: dg.AssetExecutionContext,
    config: PredictionsConfig,
    registry: ModelRegistry,
    postgres: PostgresResource,
    predictions_postgres: PostgresResource,
    champion_model: Champion,
) -> dg.MaterializeResult[Scored]:
    """Scores the newest rows of iris_data without a prediction (at most `limit`) with
    `models:/<model_name>@<alias>` and upserts them into iris_prediction, in the database of
    `predictions_postgres`: a rerun adds nothing twice. A row with a missing or infinite feature
    is named and left out, never blocking the rest. iris_data keeps the true class, so the live
    accuracy of the champion over every row it has scored shows on every materialization."""
    name, alias = champion_model.model_name, champion_model.alias
    done = (
        f"The steps before this one succeeded (the alias {alias} of {name} points at version "
        f"{champion_model.version}); once this is fixed, `--select iris_predictions` writes the "
        "predictions without training again."
    )
    state, islands = _prepare(predictions_postgres, done)
    lows, highs = id_ranges.gaps(islands)
    rows = postgres.read_frame(
        unscored_rows.SCORABLE_ROWS,
        (lows, highs, config.limit, config.limit),
        expected_rows=config.limit,
        index=ID,
    )
    with postgres.connect() as conn:
        unscorable = unscored_rows.unscorable(conn, lows, highs)
    if problem := unscorable.describe():
        context.log.warning(problem)
    with registry.within_deadline("loading the champion and predicting"):
        # The alias, read now: a run that finished since may have moved it.
        version = registry.holder(name, alias) or champion_model.version
        predicted = (
            registry.load(name, version).predict(rows[list(FEATURES)]) if not rows.empty else []
        )
    predictions = pd.Series(predicted, index=rows.index, name="predicted", dtype=int)
    target = f"{prediction_table.TABLE} in {predictions_postgres.public_url()}"
    if not rows.empty:
        written = [(int(i), int(p), version) for i, p in predictions.items()]
        with (
            _writes_refused(predictions_postgres, state, done),
            predictions_postgres.connect() as conn,
        ):
            prediction_table.upsert(conn, written)
        context.log.info(f"Scored {len(rows)} rows with version {version} of {name} into {target}")
    else:
        context.log.info(f"No scorable row of iris_data lacks a prediction in {target}")
    live_rows, right = live_counts(postgres, predictions_postgres, version)
    scored = Scored(
        rows=len(rows),
        model_version=version,
        live_accuracy=right / live_rows if live_rows else None,
        champion_valid_acc=champion_model.valid_acc,
        live_rows=live_rows,
        run_accuracy=_accuracy(predictions, rows),
        unscorable=unscorable,
    )
    context.log.info(_live_line(scored, name))
    return dg.MaterializeResult(value=scored, metadata=_metadata(scored, predictions, target, name))


def _prepare(database: PostgresResource, done: str) -> tuple[TableState, list[Island]]:
    """Make sure the table can take predictions, before anything is read, scored or written:
    refuse a table that is not ours, a read-only database or a missing privilege, saying why;
    create the table where it is missing. Then the ids it holds, as runs of consecutive ids."""
    with database.connect() as conn:
        state = prediction_table.inspect(conn)
    refusal = prediction_target.refusal(state, _where(database), database.setting())
    if refusal:
        raise dg.Failure(f"{refusal} {done}", allow_retries=False)
    with _writes_refused(database, state, done), database.connect() as conn:
        if not state.exists:
            prediction_table.create_table(conn)
        return state, prediction_table.scored_islands(conn)


@contextmanager
def _writes_refused(database: PostgresResource, state: TableState, done: str) -> Iterator[None]:
    """A write the server refuses after all (row security, a grant revoked meanwhile) fails the
    step with the server's words and both ways out, not as a bare psycopg error."""
    try:
        yield
    except _REFUSED_WRITES as error:
        message = prediction_target.write_refused(
            state, _where(database), database.setting(), str(error)
        )
        raise dg.Failure(f"{message} {done}", allow_retries=False) from None


def _accuracy(predictions: pd.Series, rows: pd.DataFrame) -> float | None:
    """How often `predictions` match the rows' true classes, where they have one."""
    labelled = rows[LABEL].notna()
    if not labelled.any():
        return None
    return float((predictions[labelled] == rows.loc[labelled, LABEL].astype(int)).mean())


def _live_line(scored: Scored, name: str) -> str:
    """The champion's live accuracy in words, or why there is none yet."""
    version = f"Version {scored.model_version} of {name}"
    if scored.live_accuracy is None:
        return (
            f"{version} has scored no row with a true class yet (rows scored before it became "
            "champion keep their version's prediction): its live accuracy shows once it has."
        )
    return (
        f"{version} was right on {scored.live_accuracy:.3f} of the {scored.live_rows} rows with "
        "a true class it has scored (live accuracy)"
        + (
            f"; on the {scored.rows} rows scored now, {scored.run_accuracy:.3f}"
            if scored.run_accuracy is not None
            else ""
        )
    )


def _metadata(
    scored: Scored, predictions: pd.Series, target: str, name: str
) -> dict[str, dg.MetadataValue]:
    """Counts and accuracies as numbers the UI plots across runs, classes and the rows left
    unscored as tables too."""
    counts = predictions.value_counts().sort_index()
    metadata: dict[str, dg.MetadataValue] = {
        "rows_scored": dg.MetadataValue.int(scored.rows),
        "model_version": dg.MetadataValue.int(scored.model_version or 0),
        "table": dg.MetadataValue.text(target),
        "champion_valid_acc": dg.MetadataValue.float(scored.champion_valid_acc),
        "live_rows": dg.MetadataValue.int(scored.live_rows),
        "unscorable_rows": dg.MetadataValue.int(scored.unscorable.rows),
    }
    if scored.live_accuracy is not None:
        metadata["live_accuracy"] = dg.MetadataValue.float(scored.live_accuracy)
    else:
        metadata["live_accuracy_note"] = dg.MetadataValue.text(_live_line(scored, name))
    if scored.run_accuracy is not None:
        metadata["run_accuracy"] = dg.MetadataValue.float(scored.run_accuracy)
    if not counts.empty:
        lines = ["| predicted | rows |", "| --- | --- |"]
        lines += [f"| {label} | {n} |" for label, n in counts.items()]
        metadata["predictions_per_class"] = dg.MetadataValue.md("\n".join(lines))
        for label, n in counts.items():
            metadata[f"predicted_{label}"] = dg.MetadataValue.int(int(n))
    if scored.unscorable.rows:
        lines = ["| column | rows | newest ids |", "| --- | --- | --- |"]
        lines += [
            f"| {bad.column} | {bad.count} | {', '.join(map(str, bad.ids))} |"
            for bad in scored.unscorable.columns
            if bad.count
        ]
        metadata["unscorable"] = dg.MetadataValue.md("\n".join(lines))
    return metadata


def _where(database: PostgresResource) -> str:
    return f"PostgreSQL at {database.public_url()}"
