"""`python -m orchestrator` runs the `rpa` command."""

from orchestrator.cli import main

main()
