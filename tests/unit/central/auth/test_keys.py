"""Passwords and tokens: argon2 hashes verify only their password; tokens carry a scannable
prefix and a key id, and only their digest is kept."""

from __future__ import annotations

from central.auth import keys, roles


def test_a_password_hash_verifies_only_its_password() -> None:
    """argon2id: the right password matches, a wrong one, None or an oversized one does not."""
    hashed = keys.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert keys.password_matches(hashed, "correct horse battery")
    assert not keys.password_matches(hashed, "correct horse batterY")
    assert not keys.password_matches(None, "correct horse battery")
    assert not keys.password_matches(hashed, "x" * (keys.PASSWORD_CHARS_MAX + 1))


def test_weak_or_odd_passwords_are_refused() -> None:
    """Too short, too long, padded or with control characters: a reason; a good one: None."""
    assert keys.check_password("short") is not None
    assert keys.check_password("x" * 2000) is not None
    assert keys.check_password(" padded password ") is not None
    assert keys.check_password("tab\tinside-password") is not None
    assert keys.check_password("a long enough passphrase") is None


def test_tokens_have_a_prefix_a_key_id_and_a_digest() -> None:
    """zamio_pat_<12>_<32>: the key id is found again; the digest matches only that token."""
    key_id, token = keys.new_token()
    assert token.startswith(keys.TOKEN_PREFIX) and keys.token_key_id(token) == key_id
    stored = keys.digest(token)
    assert keys.digest_matches(token, stored)
    assert not keys.digest_matches(token[:-1] + ("A" if token[-1] != "A" else "B"), stored)
    assert keys.token_key_id("zamio_pat_short") is None
    assert keys.token_key_id(token + "x") is None
    assert len({keys.new_token()[1] for _ in range(100)}) == 100


def test_roles_bound_scopes() -> None:
    """Default scopes are the role's read scopes; a scope beyond the role is named."""
    assert roles.default_scopes("artist") == {
        "catalog:read", "plays:read", "ledger:read", "notifications:read"
    }  # fmt: skip
    assert roles.default_scopes("station") == {"stations:read", "plays:read", "notifications:read"}
    assert "admin" in roles.allowed_scopes("admin")
    assert roles.check_scopes("artist", ["admin"]) == ["scope 'admin': not for the role artist"]
    assert roles.check_scopes("station", ["nope"])[0].startswith("scope 'nope': unknown")
    assert roles.check_scopes("auditor", ["audit:read", "plays:read"]) == []
