"""Errors raised for bad trainable configuration or missing data.

Both subclass ValueError so that pydantic (in ``mixup_tune.spec``) reports them
as validation errors, and both carry the name of what was wrong, so that the CLI
can print one line that names it.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """An option of a trainable is out of range or unknown."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str]]:
        # Ray copies and pickles a trial's exception with its class and ``args``, which hold the joined
        # text only: rebuilt from them, __init__ was short of an argument, and the trial's error became
        # that TypeError. Rebuilt from its two parts it is the same error.
        return type(self), (self.field, self.message)


class DatasetError(RuntimeError):
    """A dataset is unknown, missing or unreadable."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """An error as one line of at most ``limit`` characters, for a log line, a tag or a status table.

    Tracebacks and multi-line messages (pydantic's, Ray's) would break the one-line
    reports; an empty message falls back to the exception's type name.
    """
    text = str(error)
    return text.splitlines()[0][:limit] if text else type(error).__name__
