"""The web console and the REST API: thin adapters over `orchestrator.services`.

One FastAPI application serves both (`app.create_app`): server-rendered
Jinja2 pages with htmx for the live parts (`pages`), and `/api/v1` described
by OpenAPI (`api`). Who is asking is settled once per request (`security`);
what they may do is the service layer's business.
"""
