"""Shared fixtures for the fast tests (no Docker engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme


def render(copie, **answers) -> Path:
    """Render the template with these answers (defaults for the rest); fail with Copier's error."""
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, f"render failed: {result.exception!r}"
    return result.project_dir


def render_error(copie, **answers) -> str:
    """Render answers that must be refused; return Copier's message."""
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0, f"answers {answers} were accepted"
    return str(result.exception)


@pytest.fixture(scope="session")
def nginx_assets(tmp_path_factory) -> dict[str, str]:
    """Answers pointing nginx at test certificates that exist, so `nginx -t` can read them."""
    folder = tmp_path_factory.mktemp("nginx-assets")
    ca = trustme.CA()
    cert = ca.issue_cert("mcp.example.com", "localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(folder / "privkey.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "fullchain.pem"))
    return {
        "ssl_certificate": str(folder / "fullchain.pem"),
        "ssl_certificate_key": str(folder / "privkey.pem"),
    }
