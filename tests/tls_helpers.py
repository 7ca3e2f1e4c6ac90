"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost, made with openssl."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tls_material(tmp: Path) -> tuple[Path, Path, Path]:
    """``(ca.crt, server.crt, server.key)`` in ``tmp``: a new CA, and a server certificate it signed."""
    ca_key, ca, key, csr, crt = (tmp / n for n in ("ca.key", "ca.crt", "srv.key", "srv.csr", "srv.crt"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=Vigie test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext = tmp / "san.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", "2", "-extfile", str(ext))
    return ca, crt, key
