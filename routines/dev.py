"""`make run`: migrate and seed the embedded business database, prepare a local DAGSTER_HOME, start `dg dev`.

The process replaces itself with `dg dev` (Dagster's `dagster dev` underneath) after resetting SIGINT and SIGTERM
to their defaults: a `dagster dev` that inherits an ignored SIGINT (a script started in the background) also
ignores SIGTERM and cannot be stopped cleanly. Installed without the repository (no pyproject.toml with
`[tool.dg]`), it starts `dagster dev -m routines.definitions` instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

from routines import settings

REPOSITORY = Path(__file__).resolve().parent.parent
EMBEDDED_INSTANCE = REPOSITORY / "dagster.yaml"


def prepare(url: str | None = None) -> Path:
    """Upgrade and seed the business database; create DAGSTER_HOME with the local instance settings."""
    from routines.database import migrate
    from routines.database.engine import describe_url
    from routines.demo import seed_demo

    migrate.upgrade(url)
    added = seed_demo(url)
    print(
        f"business database {describe_url(url or settings.database_url())}: migrated; demo rows added {added}"
    )
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or settings.routines_home() / "dagster_home").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    # The repository's embedded instance settings, refreshed on every start so that an edit takes effect.
    shutil.copyfile(EMBEDDED_INSTANCE, dagster_home / "dagster.yaml")
    return dagster_home


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m routines.dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="3000")
    args = parser.parse_args(argv)
    dagster_home = prepare()
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    binaries = Path(sys.executable).parent
    if (REPOSITORY / "pyproject.toml").is_file():  # the dg project: `dg dev` from its root
        os.chdir(REPOSITORY)
        command = [str(binaries / "dg"), "dev", "--host", args.host, "--port", str(args.port)]
    else:
        command = [str(binaries / "dagster"), "dev", "-h", args.host, "-p", str(args.port)]
        command += ["-m", "routines.definitions"]
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print(f"DAGSTER_HOME={dagster_home}; starting {' '.join(command)}", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
