"""Operational alerts: the alerts file (`config`) and the channels that deliver them
(`channels`: e-mail over SMTP, webhooks rendered from Jinja2 templates).

Deciding when to raise an alert, deduplicating and storing them live elsewhere;
this package only reads the configuration and delivers messages it is given.
"""
