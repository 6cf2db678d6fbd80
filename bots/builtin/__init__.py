"""Built-in bots, one module each, written only against the public SDK."""
