"""Who holds the champion alias: a challenger that scores at least as well on the same rows."""

from dataclasses import dataclass

from iris_assets.resources.registry import RegisteredVersion


@dataclass(frozen=True)
class Champion:
    """The version the alias points at after `champion_model`, scored on that run's valid rows."""

    model_name: str
    alias: str
    version: int
    valid_acc: float
    promoted: bool


@dataclass(frozen=True)
class Decision:
    """Whether the challenger takes the alias, and why, in words for tags and the UI."""

    promoted: bool
    reason: str


def decide(
    challenger: RegisteredVersion,
    holder: int | None,
    holder_valid_acc: float | None,
    holder_error: str | None = None,
) -> Decision:
    """The challenger takes the alias from no holder, a holder that no longer loads, or a holder
    that scores no better on the same valid rows; ties go to the newer version."""
    if holder is None:
        return Decision(True, "no version held the alias")
    if holder == challenger.version:
        return Decision(True, f"version {holder} already holds the alias")
    if holder_error is not None:
        return Decision(True, f"version {holder} no longer loads or predicts: {holder_error}")
    assert holder_valid_acc is not None
    scores = (
        f"valid_acc {challenger.valid_acc:.3f} against version {holder}'s {holder_valid_acc:.3f} "
        "on the same valid rows"
    )
    if challenger.valid_acc > holder_valid_acc:
        return Decision(True, f"{scores}: better")
    if challenger.valid_acc == holder_valid_acc:
        return Decision(True, f"{scores}: a tie, which goes to the newer version")
    return Decision(False, f"{scores}: worse")
