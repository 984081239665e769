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
    from routines.catalog.schema import CatalogError, catalog_files, read_file

    specs, errors, where = [], [], {}
    for path in paths:
        if path.is_dir():
            files = catalog_files(path)
        elif path.is_file():
            files = [path]
        else:
            errors.append(CatalogError(str(path), None, None, "no such file or folder"))
            continue
        for file in files:
            found, problems = read_file(file)
            errors.extend(problems)
            for spec in found:
                if spec.name in where:
                    errors.append(
                        CatalogError(str(file), spec.name, "name", f"already declared in {where[spec.name]}")
                    )
                    continue
                where[spec.name] = str(file)
                specs.append(spec)
    for spec in specs:
        missing = [u for u in spec.upstream_routines() if u not in where]
        if missing:
            errors.append(
                CatalogError(
                    where[spec.name],
                    spec.name,
                    "upstream",
                    f"no catalog routine named {', '.join(map(repr, missing))}",
                )
            )
    return len(specs) - len({e.routine for e in errors if e.field == "upstream"}), [str(e) for e in errors]


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
