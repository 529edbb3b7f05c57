#!/usr/bin/env python3
"""A throw-away PostgreSQL server for the tests and for trying a shared catalogue.

It makes a cluster in a new temporary folder (``initdb``), owned by an unprivileged user when
run as root (PostgreSQL refuses to run as root: ``runuser -u nobody``), starts it listening on a
Unix socket in that folder only (no TCP port), creates a database and prints its URL. Stopping
it stops the server and removes the folder. The binaries are Debian's ``postgresql`` package
(``/usr/lib/postgresql/*/bin``), or those in ``MUSICORG_PG_BIN``, or on the ``PATH``.

    python scripts/pg_server.py start             prints the URL, then the folder to stop
    python scripts/pg_server.py stop FOLDER
    python scripts/pg_server.py run -- COMMAND…   COMMAND with MUSICORG_PG_URL set, then stop

The tests load this file (tests/pg.py) and start one server per session.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The unprivileged user that runs the server when we are root.
RUN_AS = os.environ.get("MUSICORG_PG_USER", "nobody")
#: The database role and the first database.
ROLE = "musicorg"
DATABASE = "musicorg"
#: Settings for a server whose data may be lost: no fsync, small, on the socket only.
SERVER_OPTIONS = (
    "-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=100 -c shared_buffers=32MB"
)


class ServerError(RuntimeError):
    """The server could not be made or started; the message says which step and why."""


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``MUSICORG_PG_BIN``, Debian's newest, the PATH."""
    wanted = os.environ.get("MUSICORG_PG_BIN")
    if wanted:
        return Path(wanted) if (Path(wanted) / "initdb").exists() else None

    def version(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _as_user(argv: list[str]) -> list[str]:
    """``argv`` run as :data:`RUN_AS` when we are root (PostgreSQL will not run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", RUN_AS, "--", *argv]
    return argv


def _run(step: str, argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).split())[-400:]
        raise ServerError(f"{step} failed ({detail})")


class Server:
    """One cluster in its own folder: :meth:`start`, :meth:`create_database`, :meth:`stop`."""

    def __init__(self, folder: Path, bins: Path) -> None:
        self.folder = folder
        self.bins = bins
        self.data = folder / "data"
        self.socket_dir = folder  # short: a socket path must stay under 108 bytes

    @classmethod
    def make(cls, bins: Path | None = None, folder: Path | None = None) -> Server:
        """A new cluster in a new folder of the system's temporary folder (not started); or in
        ``folder``, made there the first time and reused as it is afterwards (kept)."""
        bins = bins or bin_dir()
        if bins is None:
            raise ServerError("no PostgreSQL binaries (install Debian's postgresql package)")
        if folder is not None:
            server = cls(folder, bins)
            if (server.data / "PG_VERSION").exists():
                return server
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix="musicorg-pg-", dir="/tmp"))
            server = cls(folder, bins)
        try:
            if os.geteuid() == 0:
                shutil.chown(folder, user=RUN_AS)
            folder.chmod(0o700)
            _run(
                "initdb",
                _as_user(
                    [
                        str(bins / "initdb"),
                        "-D",
                        str(server.data),
                        "-U",
                        ROLE,
                        "--auth=trust",
                        "--no-locale",
                        "-E",
                        "UTF8",
                        "--no-sync",
                    ]
                ),
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server

    def start(self, options: str = "") -> None:
        """Start the server; ``options`` (``-c name=value``…) add to :data:`SERVER_OPTIONS`."""
        options = f"-k {self.socket_dir} {SERVER_OPTIONS} {options}".strip()
        log = self.folder / "server.log"
        argv = [str(self.bins / "pg_ctl"), "-D", str(self.data), "-l", str(log)]
        _run("pg_ctl start", _as_user([*argv, "-o", options, "-w", "-t", "60", "start"]))

    def url(self, database: str = DATABASE) -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3, over the socket)."""
        return f"postgresql+psycopg://{ROLE}@/{database}?host={self.socket_dir}"

    def _client(self, tool: str, *args: str) -> None:
        _run(tool, [str(self.bins / tool), "-h", str(self.socket_dir), "-U", ROLE, *args])

    def create_database(self, name: str = DATABASE) -> str:
        """Create the database ``name``; its URL."""
        self._client("createdb", name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._client("dropdb", "--force", name)

    def stop(self, keep: bool = False) -> None:
        """Stop the server (at once: its data is thrown away) and remove its folder; with
        ``keep``, stop it cleanly and keep the folder for the next :meth:`make` there."""
        try:
            mode = "fast" if keep else "immediate"
            argv = [str(self.bins / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
            if (self.data / "postmaster.pid").exists():
                _run("pg_ctl stop", _as_user(argv))
        finally:
            if not keep:
                shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """A new running server with the database :data:`DATABASE`."""
    server = Server.make()
    try:
        server.start()
        server.create_database()
    except BaseException:
        server.stop()
        raise
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("start", help="start a server; print its URL, then its folder")
    stop = sub.add_parser("stop", help="stop the server in FOLDER and remove it")
    stop.add_argument("folder", type=Path)
    run = sub.add_parser("run", help="run COMMAND with MUSICORG_PG_URL set, then stop")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        if args.what == "stop":
            bins = bin_dir()
            if bins is None:
                raise ServerError("no PostgreSQL binaries")
            Server(args.folder, bins).stop()
            return 0
        server = start()
        if args.what == "start":
            print(server.url())
            print(server.folder)
            return 0
        command = [c for c in args.command if c != "--"] or [os.environ.get("SHELL", "sh")]
        try:
            env = {**os.environ, "MUSICORG_PG_URL": server.url()}
            return subprocess.run(command, env=env, check=False).returncode
        finally:
            server.stop()
    except ServerError as exc:
        print(f"pg_server: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
