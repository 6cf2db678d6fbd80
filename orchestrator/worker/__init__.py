"""The worker: one asyncio loop, one warm browser, N slots that run bots on items."""
