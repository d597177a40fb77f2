"""`support-console serve`: the console in a browser through textual-serve, on loopback by default.

textual-serve runs `support-console --config PATH` once per browser session. Anyone who can reach
the port can act as the configured operator, so keep it on 127.0.0.1 (or behind an authenticating
reverse proxy / SSH tunnel).
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path


def command_for(config_path: str | Path | None) -> str:
    """`support-console --config PATH`, using the script installed beside this Python if there is one."""
    script = Path(sys.executable).parent / "support-console"
    parts = [str(script)] if script.exists() else [sys.executable, "-m", "console.cli"]
    if config_path:
        parts += ["--config", str(Path(config_path).resolve())]
    return " ".join(shlex.quote(p) for p in parts)


def serve(config_path, host: str = "127.0.0.1", port: int = 8000) -> int:
    from textual_serve.server import Server

    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving the console on {host}: anyone who reaches it acts as the operator",
              file=sys.stderr)
    server = Server(command_for(config_path), host=host, port=port, title="support-console")
    server.serve()
    return 0
