"""What the server serves, as one immutable value.

Only the follower thread assigns `Holder.state`, always a whole new `State`: one reference swap,
atomic in Python. A request reads it once and answers entirely from what it read, with that
version's model and that version's number in `X-Model-Version`; a request that began on the old
version finishes on it, and the old model is freed once the last such request is done.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from iris_assets.model_names import alias_uri

if TYPE_CHECKING:
    from mlflow.pyfunc import PyFuncModel
    from mlflow.types import Schema


@dataclass(frozen=True)
class Loaded:
    """A version that loaded and proved it answers."""

    version: str
    run_id: str | None
    model: "PyFuncModel"
    input_schema: "Schema"
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class FailedLoad:
    """A version the alias pointed at that did not load or predict, and never served."""

    version: str
    error: str
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class State:
    current: Loaded | None = None
    last_failed_load: FailedLoad | None = None
    waiting: str | None = None
    """Why the alias's version is not the one serving, now: none yet, loading, a store that does
    not answer; None when it serves."""


class Holder:
    """The one reference the requests read."""

    def __init__(self, model_name: str, alias: str, waiting: str) -> None:
        self.model_name = model_name
        self.alias = alias
        self.state = State(waiting=waiting)

    @property
    def uri(self) -> str:
        return alias_uri(self.model_name, self.alias)

    def serve(self, loaded: Loaded) -> None:
        """Hand the next request to `loaded`."""
        self.state = replace(self.state, current=loaded, waiting=None)

    def failed(self, failure: FailedLoad) -> None:
        self.state = replace(self.state, last_failed_load=failure)

    def wait(self, why: str | None) -> None:
        self.state = replace(self.state, waiting=why)

    def describe(self) -> dict[str, Any]:
        """What `GET /version` answers."""
        state = self.state
        current, failed = state.current, state.last_failed_load
        return {
            "name": self.model_name,
            "alias": self.alias,
            "version": current.version if current else None,
            "run_id": current.run_id if current else None,
            "loaded_at": current.loaded_at.isoformat() if current else None,
            "waiting": state.waiting,
            "last_failed_load": (
                {
                    "version": failed.version,
                    "failed_at": failed.failed_at.isoformat(),
                    "error": failed.error,
                }
                if failed
                else None
            ),
        }
