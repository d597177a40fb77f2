"""The console: in the terminal (no command), in a browser (`serve`), on the demo desk (`demo`), and the
screenshots drawn from it."""
from __future__ import annotations

import argparse
from pathlib import Path

from console.cli import common


def console(args: argparse.Namespace) -> int:
    from console.actions import sync_staff
    from console.ui.app import run_console

    cfg = common.setup(args)
    sync_staff(cfg)
    return run_console(cfg.store_path, cfg, common.actor(args, cfg, acting=False), common.clock())


def demo(args: argparse.Namespace) -> int:
    from console.demo import run_demo

    return run_demo(operator=args.actor)


def screenshots(args: argparse.Namespace) -> int:
    from console.screenshots import write_screenshots

    for p in write_screenshots(Path(args.dir)):
        print(p)
    return 0


def serve(args: argparse.Namespace) -> int:
    from console.web.serve import serve as serve_console

    cfg = None if args.demo else common.setup(args)
    return serve_console(None if cfg is None else cfg.path, host=args.host, port=args.port, public=args.public,
                         demo=args.demo, public_url=args.public_url)
