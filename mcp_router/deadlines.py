"""Time budgets for calls that must finish within the caller's gRPC deadline."""

from __future__ import annotations


def call_budget(time_remaining: float | None, cap: float, margin: float = 0.0) -> float:
    """Return the seconds a downstream call may take: the caller's remaining deadline
    minus `margin`, capped at `cap`; `cap` alone when the caller set no deadline.

    The result can be zero or negative, which means the deadline is already spent.
    """
    if time_remaining is None:
        return cap
    return min(cap, time_remaining - margin)
