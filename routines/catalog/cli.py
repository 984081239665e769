"""`routines catalog validate [PATH...]`: check routine YAML files (the project's catalog and the external
folder) without loading Dagster; every error names the file, the routine and the field."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROJECT_CATALOG = Path(__file__).resolve().parent.parent / "defs" / "catalog"


def validate_paths(paths: list[Path]) -> tuple[int, list[str]]:
    """(number of valid routines, error lines) over files and folders; names must be unique across all and
    every upstream routine must exist."""
    from routines.catalog.schema import CatalogError, catalog_files, check_references, read_files

    specs, errors, where = [], [], {}
    for path in paths:
        if not path.exists():
            errors.append(CatalogError(str(path), None, None, "no such file or folder"))
            continue
        found, problems = read_files(catalog_files(path) if path.is_dir() else [path], where)
        specs += found
        errors += problems
    missing = check_references(specs, set(where), where)
    return len(specs) - len({e.routine for e in missing}), [str(e) for e in errors + missing]


def _validate(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    if not paths:
        paths = [PROJECT_CATALOG]
        external = os.environ.get("ROUTINES_CATALOG_DIR", "").strip()
        if external:
            paths.append(Path(external).expanduser())
    valid, errors = validate_paths(paths)
    for line in errors:
        print(f"routines: error: {line}", file=sys.stderr)
    print(f"{valid} rotina(s) válida(s), {len(errors)} erro(s) em {', '.join(map(str, paths))}")
    return 1 if errors else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    catalog = subparsers.add_parser("catalog", help="routine catalog (YAML routines)").add_subparsers(
        dest="catalog_command", required=True, metavar="{validate}"
    )
    validate = catalog.add_parser(
        "validate",
        help="check routine files (default: the project's catalog and $ROUTINES_CATALOG_DIR); exit 1 on errors",
    )
    validate.add_argument("paths", nargs="*", metavar="PATH", help="YAML files or folders")
    validate.set_defaults(handler=_validate)
