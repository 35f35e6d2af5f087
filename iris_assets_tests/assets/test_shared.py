"""What every asset shares: only a failure the resources judged transient is retried."""

import dagster as dg
import pytest

from iris_assets.assets._shared import transient_only


def test_a_bug_or_bad_data_fails_at_once_with_its_message() -> None:
    """Anything but a resource's Failure becomes a final Failure that keeps type and message."""

    @transient_only
    def step() -> None:
        raise KeyError("petal_width")

    with pytest.raises(dg.Failure) as failed:
        step()
    assert not failed.value.allow_retries
    assert failed.value.description == "KeyError: 'petal_width'"
    assert isinstance(failed.value.__cause__, KeyError)


@pytest.mark.parametrize("retry", [True, False])
def test_a_resources_verdict_is_kept(retry: bool) -> None:
    """A resource's Failure passes through, with its own say on retries."""

    @transient_only
    def step() -> None:
        raise dg.Failure("server restarting", allow_retries=retry)

    with pytest.raises(dg.Failure) as failed:
        step()
    assert failed.value.allow_retries is retry
    assert failed.value.description == "server restarting"
