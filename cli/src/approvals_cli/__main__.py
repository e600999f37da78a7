"""python -m approvals_cli: the same as the `approvals` command."""

from approvals_cli.main import main

main()
