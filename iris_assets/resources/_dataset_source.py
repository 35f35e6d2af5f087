"""An MLflow dataset source that names a PostgreSQL table and the query that read it."""

from typing import Any, Self

from mlflow.data.dataset_source import DatasetSource


class PostgresQuerySource(DatasetSource):
    """Where training rows came from: a database address (never its password), table and query."""

    def __init__(self, database: str, table: str, query: str) -> None:
        self.database = database
        self.table = table
        self.query = query

    @staticmethod
    def _get_source_type() -> str:
        return "postgresql"

    def load(self, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "Rows are not reloaded from PostgreSQL (the table keeps growing): "
            "use the run's data.csv artifact."
        )

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> Self:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "table": self.table, "query": self.query}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> Self:
        return cls(source_dict["database"], source_dict["table"], source_dict["query"])
