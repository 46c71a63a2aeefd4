"""The error every command reports as one line with exit code 2. Its own module: the CLI imports it without
Ray or torch."""


class UserError(Exception):
    """Bad input or an unreachable service: reported as one line, exit code 2."""
