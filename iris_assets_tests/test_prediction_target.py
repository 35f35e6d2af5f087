"""Whether a database will take iris_prediction: each refusal names the table, what differs or is
missing, and both ways out; a table that is ours and writable passes."""

import pytest

from iris_assets.prediction_target import COLUMNS, TableState, refusal, write_refused

WHERE = "PostgreSQL at postgresql://reader@db:5432/iris"
ORIGIN = "IRIS_DATABASE_URL from .env, as IRIS_PREDICTIONS_DATABASE_URL is unset"
WAY_OUT = f"set IRIS_PREDICTIONS_DATABASE_URL to a database you may write (now: {ORIGIN})."


def _state(**changes: object) -> TableState:
    fields: dict[str, object] = {
        "user": "reader",
        "schema": "public",
        "read_only": False,
        "kind": "r",
        "columns": COLUMNS,
        "missing_privileges": (),
    }
    return TableState(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "state",
    [
        _state(),
        _state(columns=tuple(reversed(COLUMNS))),
        _state(kind=None, columns=()),
        _state(kind="p"),
    ],
)
def test_our_table_or_none_where_the_user_may_write_is_taken(state: TableState) -> None:
    """Our columns in any order, a partitioned table, or no table where CREATE is allowed."""
    assert refusal(state, WHERE, ORIGIN) is None


def test_a_table_with_other_columns_is_refused_naming_expected_and_found() -> None:
    state = _state(columns=(("id", "text"), ("label", "text")))
    message = refusal(state, WHERE, ORIGIN) or ""
    assert f'{WHERE} already has a table "public"."iris_prediction"' in message
    assert (
        "expected id integer, predicted integer, model_version integer, "
        "predicted_at timestamp with time zone; found id text, label text." in message
    )
    assert "the table is left as it is" in message
    assert message.endswith(WAY_OUT)


def test_a_column_of_another_type_is_a_difference() -> None:
    columns = (("id", "bigint"), *COLUMNS[1:])
    assert "found id bigint, predicted integer" in (
        refusal(_state(columns=columns), WHERE, ORIGIN) or ""
    )


def test_a_view_of_that_name_is_refused() -> None:
    message = refusal(_state(kind="v"), WHERE, ORIGIN) or ""
    assert 'has "public"."iris_prediction" as a view, not a table' in message
    assert message.endswith(WAY_OUT)


def test_missing_table_privileges_are_named_with_the_grant_and_the_setting() -> None:
    message = refusal(_state(missing_privileges=("INSERT", "UPDATE")), WHERE, ORIGIN) or ""
    assert message == (
        f'User reader may not write "public"."iris_prediction" in {WHERE}: it lacks INSERT, '
        'UPDATE on that table. Either grant it (`GRANT INSERT, UPDATE ON "public".'
        f'"iris_prediction" TO "reader"`), or {WAY_OUT}'
    )


def test_missing_create_on_the_schema_is_named_with_the_grant_and_the_setting() -> None:
    state = _state(kind=None, columns=(), missing_privileges=("CREATE",))
    message = refusal(state, WHERE, ORIGIN) or ""
    assert message.startswith(
        f'User reader may not create "public"."iris_prediction" in {WHERE}: it lacks CREATE on '
        'schema public. Either grant it (`GRANT CREATE ON SCHEMA "public" TO "reader"`'
    )
    assert message.endswith(WAY_OUT)


def test_a_read_only_database_is_refused_before_privileges_are_looked_at() -> None:
    message = refusal(_state(read_only=True, missing_privileges=("INSERT",)), WHERE, ORIGIN)
    assert message is not None
    assert f"{WHERE} is read-only for user reader (transaction_read_only is on" in message
    assert message.endswith(WAY_OUT)


def test_a_write_refused_after_all_keeps_the_server_words_and_both_ways_out() -> None:
    message = write_refused(
        _state(), WHERE, ORIGIN, "permission denied for table iris_prediction\n"
    )
    assert "permission denied for table iris_prediction. Either grant that user" in message
    assert message.endswith(WAY_OUT)
