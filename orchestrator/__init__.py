"""The control plane: settings, database, worker, scheduler, audit, reports and the CLI."""
