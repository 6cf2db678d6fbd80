"""`python -m orchestrator.cli` runs the `rpa` command."""

from orchestrator.cli import main

main()
