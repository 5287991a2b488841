"""Throwaway TLS material for e2e tests: a private CA and a server cert for localhost/127.0.0.1.

Made with ``trustme`` so nothing is ever trusted system-wide; clients get the CA bundle
explicitly (``httpx.Client(verify=certs.ca_bundle)``, ``curl --cacert``).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

DEFAULT_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class TlsCerts:
    """Paths of the PEM files written for one test CA and its server certificate."""

    ca_bundle: Path  # CA certificate, for clients' verify=/--cacert
    cert_chain: Path  # server cert + chain, for nginx ssl_certificate
    private_key: Path  # server key, for nginx ssl_certificate_key
    combined: Path  # key + chain in one file (some servers want that)
    names: tuple[str, ...]

    def ssl_context(self) -> ssl.SSLContext:
        """Client context trusting only the test CA (``httpx.Client(verify=...)``, urllib)."""
        return ssl.create_default_context(cafile=str(self.ca_bundle))


def make_certs(directory: Path, names: tuple[str, ...] = DEFAULT_NAMES) -> TlsCerts:
    """Write a fresh CA and a server cert valid for ``names`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*names)
    ca_path = directory / "ca.pem"
    chain_path = directory / "server-chain.pem"
    key_path = directory / "server-key.pem"
    combined_path = directory / "server-combined.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    server.private_key_pem.write_to_path(str(key_path))
    chain_path.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    server.private_key_and_cert_chain_pem.write_to_path(str(combined_path))
    key_path.chmod(0o600)
    combined_path.chmod(0o600)
    return TlsCerts(ca_path, chain_path, key_path, combined_path, tuple(names))
