"""The one error of the build."""


class BuildError(Exception):
    """A service cannot be packaged; the message says why."""
