"""Errors of the gate, as types. Messages name what is wrong, never key material."""


class GateError(Exception):
    """Bad input to the gate: an operator id, a key file, a challenge or an authorization file."""


class GateUnavailable(GateError):  # noqa: N818 - reads as the state it names: the gate is unavailable
    """The gate cannot decide (store down, policy unreadable): lethal calls must not run."""
