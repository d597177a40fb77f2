"""`support-console serve`: the console in a browser through textual-serve, on loopback unless --public.

textual-serve has no login of its own: it runs `support-console --config PATH` (or `support-console
demo`) once per browser session, as the account that runs `serve`. Whoever reaches the port acts as
that account, so it listens on 127.0.0.1 by default and refuses any other address without --public;
reach it through an SSH tunnel, or put an authenticating reverse proxy in front.
"""
from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path

from console.config import is_loopback
from store.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
PUBLIC_HOST = "0.0.0.0"


class ServeRefused(UsageError):
    """One line, safe to print."""


def command_for(config_path: str | Path | None, *, demo: bool = False) -> str:
    """The command each browser session runs, with the script installed beside this Python if any."""
    script = Path(sys.executable).parent / "support-console"
    parts = [str(script)] if script.exists() else [sys.executable, "-m", "console.cli"]
    if demo:
        parts.append("demo")
    elif config_path:
        parts += ["--config", str(Path(config_path).resolve())]
    return " ".join(shlex.quote(p) for p in parts)


def listen_address(host: str | None, public: bool) -> str:
    host = host or (PUBLIC_HOST if public else DEFAULT_HOST)
    if not public and not is_loopback(host):
        raise ServeRefused(f"serve: refusing to listen on {host} without --public (textual-serve has no login: "
                           "anyone who reaches the port acts as this account; use an SSH tunnel or an "
                           "authenticating proxy)")
    return host


# textual-serve's page links a stylesheet on a font service on the internet: a desk behind a firewall
# waits for it, and every page view tells a third party. The same font ships in textual-serve's own
# static files, so the page is served with a local @font-face in that link's place.
_REMOTE_STYLESHEET = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE | re.DOTALL)
_LOCAL_FONT = ("<style>@font-face { font-family: \"Roboto Mono\"; "
               "src: url(\"{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf\"); }</style>")


def local_page_template(textual_serve_templates: Path, into: Path) -> Path:
    """A copy of textual-serve's templates directory whose page loads nothing from off the machine."""
    into.mkdir(parents=True, exist_ok=True)
    for src in textual_serve_templates.iterdir():
        if src.is_file():
            text = src.read_text(encoding="utf-8")
            (into / src.name).write_text(_REMOTE_STYLESHEET.sub(_LOCAL_FONT, text), encoding="utf-8")
    return into


def serve(config_path, *, host: str | None = None, port: int = 8000, public: bool = False,
          demo: bool = False, public_url: str | None = None) -> int:
    """`public_url`: the address browsers use (a proxy's https:// URL); the page's websocket goes there."""
    host = listen_address(host, public)
    if not 0 < port < 65536:
        raise ServeRefused(f"serve: --port must be 1-65535, got {port}")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise ServeRefused(f"serve: --public-url must start with http:// or https://, got {public_url!r}")
    import textual_serve
    from textual_serve.server import Server

    shown = f"[{host}]" if ":" in host else host
    what = "the demo" if demo else "the console"
    print(f"serving {what} at http://{shown}:{port}/" + (
        "" if is_loopback(host) else "  (public: no login; every session runs as this account)"), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="support-console-serve-") as tmp:
        templates = local_page_template(Path(textual_serve.__file__).parent / "templates", Path(tmp))
        server = Server(command_for(config_path, demo=demo), host=host, port=port, title="support-console",
                        public_url=public_url.rstrip("/") if public_url else None, templates_path=templates)
        server.serve()
    return 0
