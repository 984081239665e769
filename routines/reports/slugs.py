"""Readable, stable names of report definitions: slugs and the Dagster partition keys built from them. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SLUG_MAX = 60


def slugify(text: str, limit: int = SLUG_MAX) -> str:
    """`Resumo diário (D-1)` -> `resumo-diario-d-1`: ASCII letters, digits and single hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:limit].strip("-")
    return slug or "relatorio"


def unique_slug(name: str, taken: Iterable[str]) -> str:
    """The slug of `name`, with `-2`, `-3`... when another definition of the company already has it."""
    used = set(taken)
    base = slugify(name)
    if base not in used:
        return base
    number = 2
    while f"{base[: SLUG_MAX - len(str(number)) - 1]}-{number}" in used:
        number += 1
    return f"{base[: SLUG_MAX - len(str(number)) - 1]}-{number}"


def company_key(code: str) -> str:
    """The company part of a partition key: the code with anything but letters and digits as `_`, so that the
    first hyphen of a key always ends it."""
    return re.sub(r"[^A-Za-z0-9]", "_", code)


def partition_key(company_code: str, slug: str) -> str:
    """`BEG-resumo-diario`: the `report` partition key of a definition (unique: one slug per company)."""
    return f"{company_key(company_code)}-{slug}"


def split_partition_key(key: str) -> tuple[str, str]:
    """(company part, slug) of a partition key."""
    company, separator, slug = key.partition("-")
    if not separator or not company or not slug:
        raise ValueError(f"report partition key {key!r}: expected <COMPANY>-<slug>, e.g. BEG-resumo-diario")
    return company, slug
