"""People, roles, tokens and the one authorization policy of every route.

- models.py: users, their station and party links, API tokens, one-time tokens, outbox, audit log
- roles.py: the roles and scopes, and each role's default scopes (pure)
- secrets.py: argon2 passwords and `zamio_pat_` tokens (pure)
- users.py, tokens.py: the domain functions the CLI and the API share
- audit.py: the append-only audit log
- policy.py: `@policy(...)` on every view, the principal of a request, ownership rules
"""
