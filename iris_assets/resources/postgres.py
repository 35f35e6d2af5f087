"""Read-only access to the PostgreSQL database that holds `iris_data`."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field

from iris_assets import embedded


class PostgresResource(dg.ConfigurableResource):
    """PostgreSQL at `database_url`, or the embedded server under `$IRIS_HOME` when it is unset."""

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the database (IRIS_DATABASE_URL); unset: embedded PostgreSQL.",
    )

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    def conninfo(self) -> str:
        """The connection string, starting the embedded server if that is the one in use."""
        return self.database_url or embedded.database_url()

    def public_url(self) -> str:
        """The database's address without its password: safe for logs, tags and the UI."""
        params = conninfo_to_dict(self.conninfo())
        user = params.get("user", "")
        host = str(params.get("host", ""))
        port = params.get("port")
        address = f"{user}@" if user else ""
        if host and not host.startswith("/"):
            address += f"{host}:{port}" if port else host
        url = f"postgresql://{address}/{params.get('dbname', '')}"
        return f"{url}?host={host}" if host.startswith("/") else url

    def describe(self) -> str:
        """One line naming the database in use and how it was chosen."""
        if self.is_embedded:
            return f"embedded PostgreSQL under {embedded.iris_home() / 'pg'}"
        return f"PostgreSQL {self.public_url()} (IRIS_DATABASE_URL)"

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection in autocommit mode, closed on exit."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            yield conn

    def read_frame(
        self, query: sql.Composable, params: Sequence[Any] = (), columns: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Rows of a query with bound parameters; `columns` name those of an empty result."""
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            names = [column.name for column in cursor.description or ()] or list(columns)
            return pd.DataFrame(cursor.fetchall(), columns=names)
