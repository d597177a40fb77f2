"""`support-console serve` (issue 12, item 5): loopback by default, no other address without --public,
and `serve --demo` without any config. The server runs for real; the test reads its page over loopback
and looks at the kernel's table of listening sockets for the address it bound."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from console.web.serve import command_for, listen_address, local_page_template
from tests.integration.helpers import CLI, REPO, cli_env, free_port, run_cli

pytestmark = pytest.mark.integration


def listening_on(port: int) -> set[str]:
    """The IPv4 addresses with a socket listening on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, p = local.split(":")
        if int(p, 16) == port and state == "0A":  # LISTEN
            found.add(".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_serve_demo_needs_no_config_and_listens_on_loopback_only(tmp_path):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp")
    port = free_port()
    env = cli_env(SUPPORT_CONSOLE_CONFIG=str(tmp_path / "none.toml"))  # no config anywhere
    proc = subprocess.Popen([*CLI, "serve", "--demo", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        page = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert page is not None, proc.stderr.read1().decode() if proc.poll() is not None else "no answer"
        assert "support-console" in page and f"ws://127.0.0.1:{port}/ws" in page
        assert listening_on(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stderr.read().decode().startswith(f"serving the demo at http://127.0.0.1:{port}/")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "desk.example.com", "::"])
def test_another_address_needs_public(host, tmp_path):
    r = run_cli(None, "serve", "--demo", "--host", host)
    assert r.returncode == 64 and r.stdout == ""
    assert r.stderr == (f"support-console: serve: refusing to listen on {host} without --public (textual-serve "
                        "has no login: anyone who reaches the port acts as this account; use an SSH tunnel or an "
                        "authenticating proxy)\n")


def test_addresses_and_commands():
    assert listen_address(None, False) == "127.0.0.1"
    assert listen_address(None, True) == "0.0.0.0"
    assert listen_address("::1", False) == "::1" and listen_address("localhost", False) == "localhost"
    assert listen_address("192.0.2.7", True) == "192.0.2.7"
    assert command_for(None, demo=True).endswith(" demo")
    assert command_for("/etc/desk/config.toml").endswith(" --config /etc/desk/config.toml")


def test_serve_with_a_config_still_needs_one(tmp_path):
    r = run_cli(tmp_path / "missing.toml", "serve")
    assert r.returncode == 78 and "config file not found" in r.stderr


def _serve_demo(port: int, tmp_path: Path) -> subprocess.Popen:
    env = cli_env(SUPPORT_CONSOLE_CONFIG=str(tmp_path / "none.toml"))
    proc = subprocess.Popen([*CLI, "serve", "--demo", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise AssertionError(f"serve did not answer: {proc.stderr.read1().decode() if proc.stderr else ''}")


def test_the_page_loads_nothing_from_off_the_machine(tmp_path):
    """A real browser opens the served page; its network log lists every request it made (issue 25 item 6)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    port = free_port()
    proc = _serve_demo(port, tmp_path)
    netlog = tmp_path / "netlog.json"
    try:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                        f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}",
                        "--virtual-time-budget=8000", "--dump-dom", f"http://127.0.0.1:{port}/"],
                       capture_output=True, timeout=90, check=False)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    origin = f"http://127.0.0.1:{port}"
    # The page's own requests name it as their initiator; the browser's background requests (updates,
    # time) do not, and name resolution is closed to everything but 127.0.0.1 anyway.
    page = {e["params"]["url"] for e in log["events"]
            if e["type"] == start_job and e.get("params", {}).get("initiator") == origin}
    assert any("/static/js/textual.js" in u for u in page)  # the log really holds the page's requests
    assert sorted(u for u in page if urlsplit(u).hostname != "127.0.0.1") == []


def test_the_page_template_drops_the_font_service(tmp_path):
    import textual_serve

    shipped = Path(textual_serve.__file__).parent / "templates"
    out = local_page_template(shipped, tmp_path / "t")
    page = (out / "app_index.html").read_text()
    assert "googleapis" in (shipped / "app_index.html").read_text()  # what we remove is really there
    assert "googleapis" not in page and "fonts/RobotoMono-VariableFont_wght.ttf" in page
    assert "{{ config.static.url }}js/textual.js" in page  # the rest of the page is textual-serve's own
