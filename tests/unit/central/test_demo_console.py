"""The demo's console block: each login with its password when first shown, never again, and
never in the JSON report."""

from __future__ import annotations

from central.demo.accounts import Login
from central.demo.report import Console, console_json, console_lines

CONSOLE = Console(
    "http://127.0.0.1:8000/",
    (Login("admin@zamio.demo", "admin", "s3cret-admin-password"),
     Login("ama-serwaa@artists.demo", "artist", "s3cret-artist-password")),
)  # fmt: skip


def test_the_first_block_shows_each_password_the_last_none() -> None:
    """Shown once: the block printed when the console starts has the passwords, the closing
    one names the same logins without them."""
    first = "\n".join(console_lines(CONSOLE, serving=True))
    again = "\n".join(console_lines(CONSOLE, serving=True, passwords=False))
    for login in CONSOLE.logins:
        assert login.email in first and login.password in first
        assert login.email in again and login.password not in again
    assert CONSOLE.url in first and CONSOLE.url in again


def test_the_json_report_and_repr_hold_no_password() -> None:
    """The JSON report lists the logins by email and role only; a Login's repr hides it."""
    assert console_json(CONSOLE) == {
        "url": "http://127.0.0.1:8000/",
        "logins": [{"email": "admin@zamio.demo", "role": "admin"},
                   {"email": "ama-serwaa@artists.demo", "role": "artist"}],
    }  # fmt: skip
    assert "s3cret" not in repr(CONSOLE)
