"""[imap] ca_file: a desk's private CA or a self-signed server is trusted for IMAP, and only when configured."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from console.config import load
from console.intake import imap
from tests.integration.helpers import DESK_PASSWORD, write_config
from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason

pytestmark = pytest.mark.integration


class TlsDovecot(Dovecot):
    """The fixture's Dovecot, offering STARTTLS with the given certificate."""

    def __init__(self, root: Path, cert: Path, key: Path):
        super().__init__(root)
        self.cert, self.key = cert, key

    def write_config(self) -> None:
        super().write_config()
        if self.version >= (2, 4):
            tls = f"ssl = yes\nssl_server_cert_file = {self.cert}\nssl_server_key_file = {self.key}"
        else:
            tls = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}"
        self.conf.write_text(self.conf.read_text().replace("ssl = no", tls))


@pytest.fixture
def tls_dovecot():
    reason = dovecot_unavailable_reason() or (None if shutil.which("openssl") else "openssl not found")
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="support-console-tls-"))
    root.chmod(0o755)  # the mail user and dovecot must reach the server below it
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    server = TlsDovecot(root / "dovecot", cert, key)
    try:
        server.start()
        yield server
    finally:
        server.stop(graceful=False)
        shutil.rmtree(root, ignore_errors=True)


def test_ca_file_trusts_a_self_signed_server_and_nothing_else_does(tls_dovecot, tmp_path):
    cfg = load(write_config(tmp_path, port=tls_dovecot.port, security="starttls")).imap
    with pytest.raises(imap.IntakeError, match="TLS certificate not trusted .*set \\[imap\\] ca_file"):
        imap.connect(cfg, DESK_PASSWORD)
    client = imap.connect(cfg._replace(ca_file=tls_dovecot.cert), DESK_PASSWORD)
    try:
        assert imap.select(client, cfg) > 0
    finally:
        client.logout()
    missing = tmp_path / "nope.pem"
    with pytest.raises(imap.IntakeError, match="imap.ca_file: cannot read CA certificates from .*nope.pem"):
        imap.connect(cfg._replace(ca_file=missing), DESK_PASSWORD)


def test_ca_file_is_read_from_the_config(tmp_path):
    (tmp_path / "desk-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = load(write_config(tmp_path, port=993, security="tls", imap_extra='ca_file = "desk-ca.pem"'))
    assert cfg.imap.ca_file == tmp_path / "desk-ca.pem"  # relative to the config file
    assert load(write_config(tmp_path, port=993, security="tls")).imap.ca_file is None
