"""`support-console`: the entry point (see shared/DESIGN.md, "Public contract").

The parser is parser.py; each command is one function in a module beside it, imported only when that
command runs (an MTA starts one `ingest` per mail); errors and exit codes are errors.py. An error is one
clear line and a non-zero exit, never a traceback (set SUPPORT_CONSOLE_DEBUG=1 to see one).
"""
from __future__ import annotations

import gc
import os
import sys


def main(argv: list[str] | None = None) -> int:
    # `ingest` files one mail and exits: the cycle collector would only run during its imports and once more
    # as the process ends. Off from here when the words say ingest (a guess, put right once they are parsed).
    # Called with argv (a test runs commands in its own process), it is put back as it was at the end.
    in_process, argv = argv is not None, sys.argv[1:] if argv is None else argv
    collecting = gc.isenabled()
    if "ingest" in argv:
        gc.disable()
    try:
        return _run(argv, collecting)
    finally:
        if collecting and in_process:
            gc.enable()


def _run(argv: list[str], collecting: bool) -> int:
    from console import log_later
    from console.cli.parser import build

    args = build(argv).parse_args(argv)
    # --config/--as may come before or after the command; SUPPRESS keeps a subparser from resetting them.
    args.config = getattr(args, "config", None)
    args.actor = getattr(args, "actor", None)
    level = log_later.INFO if getattr(args, "verbose", False) or args.command == "poll" else log_later.WARNING
    one_mail = args.command == "ingest"  # one process per mail, and most mail logs nothing (console.log_later)
    log_later.set_up(level, later=one_mail)
    if collecting and not one_mail:  # main() guessed from the words; the poller and the console run for days
        gc.enable()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - turned into one line below
        from console import logs
        from console.cli.errors import explain

        log_later.now()  # the config's secrets are masked in the line below too
        code, message = explain(exc, args.command)
        if os.environ.get("SUPPORT_CONSOLE_DEBUG"):
            # More to read, the same exit status: an MTA must still see 75 (retry), not 1 (bounce).
            import traceback

            # Masked like the line below: the exception's text, and the frames' source lines, may quote a URL.
            print(logs.redact(traceback.format_exc()), file=sys.stderr, end="")
        print(f"support-console: {logs.redact(message)}", file=sys.stderr)  # an exception may quote a URL
        return code
