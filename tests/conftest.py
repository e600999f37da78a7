"""Every test runs against a fake AWS identity and the functions' environment."""

import tests.support.aws_env  # noqa: F401  (sets the environment before anything creates a client)
