"""SQL where SQL lives: long statements sit in `.sql` files in a `sql/` folder beside their module, and name
tables by placeholder — `{person}`, `{claim}`, `{enrolment}`: a model's name (Model._meta.model_name) standing
for its Model._meta.db_table — so a model that moves between apps, or renames its table, moves its SQL with it.

`load(__name__, "settle_claims")` reads `<folder of the module>/sql/settle_claims.sql` once per process, with
the table names substituted. Parameters stay bound (%s, %(name)s): placeholders are only ever filled with table
names, or with SQL fragments the calling code composes (never user data). A file lists those fragments in a
first-line comment, `-- fragments: hit, groups`, and the caller fills them with `fill()`. Any other placeholder
that names no model is an error when the file is loaded, so a typo never reaches the database.
"""
from __future__ import annotations

import functools
import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

from django.apps import apps

# The apps whose models the project's SQL names; Django's own tables are not written by hand.
OUR_APPS = ("poverty_registry", "enrollment", "claims")
# {name}; `{17}` (a regular expression's count) is no placeholder.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
FRAGMENTS_LINE = re.compile(r"\A--\s*fragments:\s*(.*)\n")


class SqlFileError(LookupError):
    """A .sql file that names an unknown table or fragment."""


@functools.cache
def tables() -> dict[str, str]:
    """{model name: table} for every model of our apps, e.g. person → the table of Person."""
    mapping: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS:
            continue
        name = model._meta.model_name
        if name in mapping:  # two apps' models of one name: a placeholder would be ambiguous
            raise SqlFileError(f"two models are named {name}: {mapping[name]}, {model._meta.db_table}")
        mapping[name] = model._meta.db_table
    return mapping


def table(model_name: str) -> str:
    """The table of a model of ours named without importing it (another app's model, seen from below)."""
    return tables()[model_name]


def folder_of(module: ModuleType | str) -> Path:
    """The `sql/` folder beside a module (for a package: inside it)."""
    if isinstance(module, str):
        module = sys.modules.get(module) or importlib.import_module(module)
    return Path(module.__file__).parent / "sql"


def substitute(text: str, fragments: frozenset[str] = frozenset(), where: str = "") -> str:
    """The text with every table placeholder replaced by its table; declared fragments are left in place."""
    mapping = tables()

    def one(match: re.Match) -> str:
        name = match[1]
        if name in fragments:
            return match[0]
        if name in mapping:
            return mapping[name]
        raise SqlFileError(f"{where or 'SQL'}: {{{name}}} names no model of {', '.join(OUR_APPS)} "
                           "and is not a declared fragment")

    clash = fragments & mapping.keys()
    if clash:
        raise SqlFileError(f"{where or 'SQL'}: fragments {sorted(clash)} are also model names")
    return PLACEHOLDER.sub(one, text)


def parse(text: str, where: str = "") -> str:
    """A .sql file's text with its tables substituted (the `-- fragments:` line read and dropped)."""
    declared = FRAGMENTS_LINE.match(text)
    fragments = frozenset(n.strip() for n in declared[1].split(",") if n.strip()) if declared else frozenset()
    # ends with a line break: a file's last line may be a comment, and the text may be embedded in another
    return substitute(text[declared.end():] if declared else text, fragments, where).strip() + "\n"


@functools.cache
def _load(folder: Path, name: str) -> str:
    path = folder / f"{name}.sql"
    return parse(path.read_text(encoding="utf-8"), str(path))


def load(module: ModuleType | str, name: str) -> str:
    """The statement `name` of a module (pass `__name__`): its .sql file, read once, tables substituted."""
    return _load(folder_of(module), name)


@functools.cache
def inline(text: str) -> str:
    """A short statement kept in the code, with its table placeholders substituted (once per text)."""
    return substitute(text, where="inline SQL")


def fill(text: str, **fragments: str) -> str:
    """A loaded statement with its declared fragments filled in by the code that composes it."""
    def one(match: re.Match) -> str:
        return fragments[match[1]] if match[1] in fragments else match[0]

    return PLACEHOLDER.sub(one, text)
