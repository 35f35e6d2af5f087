"""The thread that follows the alias: look, load the new version beside the old, prove it, swap.

It never stops on an error: a registry that does not answer, or a version that does not load,
leaves the version that serves serving. Each reason is logged when it changes, not every poll.
"""

import logging
import threading
import time
from typing import TYPE_CHECKING

from iris_assets.model_names import version_uri
from iris_assets.serving.proof import NotProven, load_and_prove
from iris_assets.serving.state import FailedLoad, Holder
from iris_assets.serving.store import Store, alias_version

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

_log = logging.getLogger("iris_assets")


class Follower:
    def __init__(
        self, holder: Holder, store: Store, client: "MlflowClient", poll: float, address: str
    ) -> None:
        self._holder = holder
        self._store = store
        self._client = client
        self._poll = poll
        self._address = address
        self._said: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alias-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop looking; a load under way is abandoned with the process (the thread is a
        daemon), so stopping never waits for a download."""
        self._stop.set()
        self._thread.join(timeout=1)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as error:
                why = f"looking at {self._holder.uri} failed: {type(error).__name__}: {error}"
                self._holder.wait(self._store.scrub(why))
                self._say(self._store.scrub(why), level=logging.ERROR)
            self._stop.wait(self._poll)

    def step(self) -> None:
        """One look at the alias, and the swap it calls for."""
        holder = self._holder
        version, why_not = alias_version(self._client, self._store, holder.model_name, holder.alias)
        state = holder.state
        current = state.current
        if version is None:
            holder.wait(why_not)
            self._say(why_not)
            return
        if current is not None and current.version == version:
            holder.wait(None)
            self._said = None
            return
        failed = state.last_failed_load
        retry = failed is not None and failed.version == version
        if not retry:
            beside = f" beside version {current.version}" if current else ""
            _log.info("Loading version %s of %s%s", version, holder.uri, beside)
            holder.wait(f"loading version {version}")
        started = time.monotonic()
        try:
            loaded = load_and_prove(version_uri(holder.model_name, version), version, current)
        except NotProven as error:
            reason = self._store.scrub(str(error))
            if not (retry and failed is not None and failed.error == reason):
                holder.failed(FailedLoad(version, reason))
            why = f"version {version} failed to load or predict: {reason}"
            holder.wait(why)
            self._say(why, level=logging.ERROR)
            return
        holder.serve(loaded)
        self._said = None
        _log.info(
            "Serving %s (version %s) on %s%s: loaded and proven in %.1f s",
            holder.uri,
            version,
            self._address,
            f" in place of version {current.version}" if current else "",
            time.monotonic() - started,
        )

    def _say(self, why: str | None, level: int = logging.WARNING) -> None:
        """Log why the alias's version does not serve, once for as long as the reason holds."""
        if why is None or why == self._said:
            return
        self._said = why
        current = self._holder.state.current
        if current is None:
            _log.log(level, "Not serving %s yet: %s", self._holder.uri, why)
        else:
            _log.log(
                level, "Still serving version %s of %s: %s", current.version, self._holder.uri, why
            )
