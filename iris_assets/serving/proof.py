"""Load a version beside the one serving, and prove it answers before it may take a request.

The proof is the request path itself: the version's logged serving input example goes through
`mlflow.pyfunc.scoring_server.invocations`, the function every `POST /invocations` calls, and must
come back as one prediction per example row. When a version serves already, the new one must take
the same inputs (its signature's), or the requests that version answers would start failing.
"""

import json
import tempfile

from iris_assets.serving.state import Loaded


class NotProven(Exception):
    """The version cannot serve; the message says why, in one line."""


def load_and_prove(uri: str, version: str, serving: Loaded | None) -> Loaded:
    """`uri` (`models:/<name>/<version>`, or a model's directory) loaded and proven as `version`,
    or NotProven. MLflow's tracking URI must point at the registry (server.py sets it)."""
    import mlflow
    import pandas as pd
    from mlflow.pyfunc import scoring_server

    # A directory of our own, gone once the model is in memory: MLflow's default would leave one
    # behind for every version this long-lived process loads.
    with tempfile.TemporaryDirectory(prefix="iris-serving-") as download:
        path = download
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=download)
            model = mlflow.pyfunc.load_model(path)
            example = model.metadata.get_serving_input(path)
        except Exception as error:
            # Named by its URI, not the temporary directory: the same failure reads the same at
            # every look, and is logged once.
            where = _one_line(error).replace(path, uri).replace(download, uri)
            raise NotProven(f"it does not load: {where}") from None
    schema = model.metadata.get_input_schema()
    if schema is None:
        raise NotProven("it has no signature, so no request can be checked against its inputs")
    if serving is not None and schema != serving.input_schema:
        raise NotProven(
            f"its inputs {schema} differ from those of version {serving.version}, "
            f"{serving.input_schema}, which clients send now; restart the server to serve it"
        )
    if example is None or model.input_example is None:
        raise NotProven("it was logged without an input example to predict on")
    try:
        answer = scoring_server.invocations(example, "application/json", model, schema)
    except Exception as error:
        raise NotProven(f"it does not predict its input example: {_one_line(error)}") from None
    if answer.status != 200:
        raise NotProven(f"it does not predict its input example: {_one_line(answer.response)}")
    predictions = json.loads(answer.response)["predictions"]
    rows = len(pd.DataFrame(model.input_example))
    if len(predictions) != rows:
        raise NotProven(
            f"it made {len(predictions)} predictions for the {rows} rows of its example"
        )
    return Loaded(version=version, run_id=model.metadata.run_id, model=model, input_schema=schema)


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if isinstance(error, BaseException) else text
