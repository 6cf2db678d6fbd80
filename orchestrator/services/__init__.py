"""Use cases over the store that the CLI, the web console and the REST API share.

Each function takes the `Principal` that asks (a console user, a token, the
OS user at a terminal) and checks what its role may do before it reaches the
store, so the three adapters cannot drift apart on who may do what. No SQL
lives here: the store is the only way in.
"""
