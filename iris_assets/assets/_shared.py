"""What every asset of the graph shares: its group, and which failures its steps retry (only
those a retry can mend)."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import dagster as dg

GROUP = "iris"
"""The group every asset is in, so the UI shows the graph as one."""

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_FAILURES = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)
"""For steps that talk to a service, with `transient_only`: a blip of the service is retried."""


def transient_only(compute: Callable[P, R]) -> Callable[P, R]:
    """Let the step's RetryPolicy retry only what the resources judged transient.

    The resources turn a service's failures into `dg.Failure`s that say whether a retry can help
    (a server restarting: yes; refused credentials, a wait that already ran out: no). Anything
    else raised in the step is no blip of a service but bad data, bad config or a bug, which
    fails the same way every time: it fails at once, its message kept, instead of twice more.
    """

    @functools.wraps(compute)
    def step(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return compute(*args, **kwargs)
        except dg.Failure as failure:
            if failure.allow_retries and args:
                say_it_runs_again(args[0], failure)
            raise
        except dg.DagsterError:
            raise
        except Exception as error:
            raise dg.Failure(
                description=f"{type(error).__name__}: {error}", allow_retries=False
            ) from error

    return step


def say_it_runs_again(context: object, failure: dg.Failure) -> None:
    """A WARNING, where the step's retry policy will run it again: that it failed, why, and when
    it runs again. Dagster says so only at DEBUG (STEP_UP_FOR_RETRY), so the console would show
    a step that read its table twice, silent on the connection it lost in between."""
    if not isinstance(context, dg.AssetExecutionContext | dg.OpExecutionContext):
        return
    policy = context.op_def.retry_policy
    attempt = context.retry_number + 1
    if policy is None or attempt > policy.max_retries:
        return
    wait = policy.calculate_delay(attempt)
    context.log.warning(
        f"{context.op_def.name} failed on attempt {attempt} of {policy.max_retries + 1} and "
        f"runs again in {wait:g} s: {failure.description}"
    )
