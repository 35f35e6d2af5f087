"""Whether a database will take `iris_prediction`, judged before anything is written: the table's
columns, the user's privileges, a read-only session. Each refusal names the table, what is missing
or different, and both ways out: fix that database, or send predictions to another one."""

from dataclasses import dataclass

from psycopg import sql

from iris_assets import settings

TABLE = "iris_prediction"
COLUMNS = (
    ("id", "integer"),
    ("predicted", "integer"),
    ("model_version", "integer"),
    ("predicted_at", "timestamp with time zone"),
)
"""The table's columns and their types, as PostgreSQL's format_type names them."""
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")
"""What an upsert into an existing table needs: reading its ids, adding and replacing rows."""
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass(frozen=True)
class TableState:
    """What the predictions database says about `iris_prediction` and the user writing it."""

    user: str
    schema: str | None
    """The table's schema, or where CREATE TABLE would put it (None: no schema on the
    search_path exists)."""
    read_only: bool
    kind: str | None
    """pg_class.relkind of the relation named iris_prediction; None when there is none."""
    columns: tuple[tuple[str, str], ...]
    missing_privileges: tuple[str, ...]
    """Of TABLE_PRIVILEGES on the table, or CREATE on the schema while the table is missing."""

    @property
    def exists(self) -> bool:
        return self.kind is not None

    def qualified(self) -> str:
        """The table as SQL names it, schema included where known."""
        parts = (self.schema, TABLE) if self.schema else (TABLE,)
        return sql.Identifier(*parts).as_string()


def refusal(state: TableState, where: str, origin: str) -> str | None:
    """Why iris_predictions must not write to this database, or None when it may.

    `where` names the database (no password), `origin` the setting that chose it, as
    `PostgresResource.setting()` says it.
    """
    elsewhere = _elsewhere(origin)
    if state.read_only:
        return (
            f"{where} is read-only for user {state.user} (transaction_read_only is on: a standby, "
            f"or default_transaction_read_only), so {TABLE} cannot be written there. Either "
            "connect to a writable server, or " + elsewhere
        )
    if state.exists and _KINDS.get(state.kind or "") != "table":
        kind = _KINDS.get(state.kind or "", f"relation of kind {state.kind!r}")
        return (
            f"{where} already has {state.qualified()} as a {kind}, not a table; iris_predictions "
            "wrote nothing and left it as it is. Rename or drop it, or " + elsewhere
        )
    if state.exists and set(state.columns) != set(COLUMNS):
        return (
            f"{where} already has a table {state.qualified()} whose columns differ from those "
            f"iris_predictions writes: expected {_listed(COLUMNS)}; found "
            f"{_listed(state.columns) or 'no column'}. Nothing was written and the table is left "
            "as it is. Rename or drop that table, or " + elsewhere
        )
    if not state.missing_privileges:
        return None
    user = sql.Identifier(state.user).as_string()
    if state.exists:
        lacking = ", ".join(state.missing_privileges)
        return (
            f"User {state.user} may not write {state.qualified()} in {where}: it lacks {lacking} "
            f"on that table. Either grant it (`GRANT {lacking} ON {state.qualified()} TO {user}`), "
            "or " + elsewhere
        )
    if state.schema is None:
        return (
            f"User {state.user} may not create {TABLE} in {where}: no schema of its search_path "
            f"exists to create it in. Either give it one (`ALTER ROLE {user} SET search_path = "
            "public` with CREATE on that schema), or " + elsewhere
        )
    schema = sql.Identifier(state.schema).as_string()
    return (
        f"User {state.user} may not create {state.qualified()} in {where}: it lacks CREATE on "
        f"schema {state.schema}. Either grant it (`GRANT CREATE ON SCHEMA {schema} TO {user}`; or "
        f"create the table as its owner and `GRANT {', '.join(TABLE_PRIVILEGES)} ON "
        f"{state.qualified()} TO {user}`), or " + elsewhere
    )


def write_refused(state: TableState, where: str, origin: str, error: str) -> str:
    """The server refused a write that the checks before it let through (row security, a grant
    revoked meanwhile, a session turned read-only): its own words, and both ways out."""
    return (
        f"{where} refused to write {state.qualified()} as user {state.user}: "
        f"{' '.join(error.split())}. Either grant that user what it lacks (`GRANT "
        f"{', '.join(TABLE_PRIVILEGES)} ON {state.qualified()} TO "
        f"{sql.Identifier(state.user).as_string()}`), or " + _elsewhere(origin)
    )


def _elsewhere(origin: str) -> str:
    name = settings.PREDICTIONS_DATABASE_URL.name
    return f"set {name} to a database you may write (now: {origin})."


def _listed(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in columns)
