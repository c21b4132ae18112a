"""Errors of the screening capability: each says what is wrong and where (file:line when a file)."""

from __future__ import annotations


class ScreenError(Exception):
    """Base class: a list, a name or an ownership declaration that cannot be used."""


class InvalidNameError(ScreenError):
    """A name that cannot be screened or imported: empty, too long, control characters, mixed scripts."""


class ListFormatError(ScreenError):
    """A list file that cannot be imported; `problems` holds every `file:line: why` found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s), nothing imported:\n  {shown}{more}")


class OwnershipError(ScreenError):
    """An ownership declaration that is not a list of owners with names and percentages."""
