"""Reports: what the robots freed and what they cost, as pure logic over plain dataclasses.

Nothing in this package touches the database. The audit-log SQL (written elsewhere)
hands over one row per process and period; these modules turn those rows into
figures finance and process owners can trust, and into files they can open.

Module map:

* ``periods``      - ``Period`` and ``parse_period`` (``2026-Q3``, ``2026-W05``, ...).
* ``money``        - NOK amounts as integer øre; Norwegian and plain formatting.
* ``allocation``   - exact largest-remainder splits; cost lines over processes.
* ``hours``        - ``ProcessUsage`` (the per-process input row); freed hours and
                     FTE per process, owner or cost centre.
* ``costs_config`` - ``config/costs.yaml``: pydantic models, loader, pro-rating.
* ``candidates``   - scoring of processes that might be automated next.
* ``export``       - CSV, XLSX and chart (PNG/SVG) files from a generic ``Report``.
* ``render``       - Rich tables for the terminal and a JSON form.

Errors raised on purpose form one small tree, so a CLI can catch ``ReportError``
and print the message without a traceback:

``ReportError`` (``orchestrator.errors``, a ``UsageError``: exit 2) ->
``PeriodError`` (``periods``), ``MoneyError`` (``money``), ``AllocationError``
(``allocation``), ``UsageFiguresError`` (``hours``), ``CostsConfigError``
(``costs_config``), ``CandidateError`` (``candidates``), ``ExportError``
(``export``). All but the root are also ``ValueError``.
"""
