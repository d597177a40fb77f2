"""Running the desk: `poll`, `status` and `init`."""
from __future__ import annotations

import argparse

from console.cli import common
from console.cli.errors import CannotCreate


def poll(args: argparse.Namespace) -> int:
    from console import poller

    cfg = common.setup(args, check_urls=True)
    return poller.run(cfg, common.clock(), once=args.once)


def status(args: argparse.Namespace) -> int:
    from console.status import report

    healthy, text = report(common.setup(args), common.clock().now(), as_json=args.json)
    print(text)
    return 0 if healthy else 1


def replication(args: argparse.Namespace) -> int:
    """`replicate`, `restore --from URL` and `init --database`."""
    from console.replication import run_command

    return run_command(args, common.config(args), common.clock())


def init(args: argparse.Namespace) -> int:
    if args.database:
        return replication(args)
    from console import config
    from console.starter import write_starter

    path = config.resolve_path(args.path or args.config)
    try:
        write_starter(path)
    except FileExistsError:
        raise CannotCreate(f"{path} already exists; not overwritten (give another PATH, or edit it)") from None
    except OSError as exc:
        raise CannotCreate(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path}: set [imap], [routing], [[staff]] and [oncall], then run `support-console check`")
    return 0
