"""The dev stack's one list of service variables names every variable the code reads to find one.

Tests and benchmarks strip that list from the environment they pass on, so a variable missing from
it would let a developer's shell point a test at the developer's own services.
"""

from iris_assets_tests.deploy import _compose
from iris_devstack.checkout import REPO
from iris_devstack.service_env import SERVICE_VARIABLES

TUNING_VARIABLES = frozenset(
    {"IRIS_CODE_VERSION", "IRIS_RETRAIN_MIN_NEW_ROWS", "MLFLOW_UV_AUTO_DETECT", "PATH"}
)
"""Variables the code reads that change how it runs, not which service it reaches."""


def test_every_variable_the_code_reads_is_a_service_or_a_tuning_variable() -> None:
    """A new variable fails here until it joins SERVICE_VARIABLES or TUNING_VARIABLES."""
    sources = sorted((REPO / _compose.PACKAGE).rglob("*.py"))
    read = set(_compose.variables_read(sources))
    assert read - TUNING_VARIABLES - set(SERVICE_VARIABLES) == set()
