"""The Jinja2 adapter: HTML pages from the package's templates, or an operator's.

A template named ``index.html`` is looked up first in the project's
``config/templates/``, then among those shipped in ``feeds/templates/``; the
shipped ones can also be named ``feeds/<name>``, so that an override may extend
the template it replaces and change one block. HTML is autoescaped (CSS is
not), and a name a template uses but was not given is an error, not an empty
string, so ``feeds check`` finds a misspelt variable.

Errors name the template file and line (``config/templates/index.html:12``).
``check_templates`` renders every page against sample data; ``Templates.render``
falls back to the shipped template when an override fails on real data, and
keeps the reason in ``problems`` for the run's warnings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.errors import ConfigError, EmitError

if TYPE_CHECKING:
    import jinja2

TEMPLATES_DIR = Path("config") / "templates"  # in the project folder
SHIPPED_DIR = Path(__file__).parent / "templates"
SHIPPED_PREFIX = "feeds"  # "feeds/index.html" is always the shipped index.html
# Page templates the program renders, and the templates they use.
PAGES = ("index.html", "article.html")
PARTS = ("base.html", "style.css")


def overrides_dir(root: Path) -> Path:
    return root / TEMPLATES_DIR


def has_overrides(root: Path) -> bool:
    """Whether the project has a ``config/templates/`` folder to check."""
    return overrides_dir(root).exists()


def _template_files(folder: Path) -> Iterator[Path]:
    """Every file under ``folder``, in a stable order (hidden ones and editor
    backups left out: they are not templates anyone meant to use)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts) \
                and not path.name.endswith("~"):
            yield path


def templates_fingerprint(root: Path) -> str:
    """A digest of the templates' names and bytes, the operator's and the shipped
    ones: the pages must be rendered again when one changes, even if no entry did."""
    digest = hashlib.sha256()
    for label, folder in (("shipped", SHIPPED_DIR), ("config", overrides_dir(root))):
        if not folder.is_dir():
            continue
        for path in _template_files(folder):
            name = f"{label}/{path.relative_to(folder).as_posix()}"
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError as exc:  # rendering will say so; the digest only has to differ
                digest.update(repr(exc).encode())
            digest.update(b"\0")
    return digest.hexdigest()


def _environment(override: Path | None) -> jinja2.Environment:
    import jinja2

    shipped = jinja2.FileSystemLoader(SHIPPED_DIR, followlinks=False)
    loaders: list[jinja2.BaseLoader] = [jinja2.PrefixLoader({SHIPPED_PREFIX: shipped})]
    if override is not None:
        loaders.append(jinja2.FileSystemLoader(override, followlinks=False))
    loaders.append(shipped)
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "htm", "xml", "svg"), disabled_extensions=("css", "js", "txt"),
            default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def _display(filename: str, override: Path | None) -> str:
    """How a template file is named in messages: relative to the project for an
    override, as ``feeds/templates/...`` for a shipped one."""
    path = Path(filename)
    if override is not None and path.is_relative_to(override):
        return (TEMPLATES_DIR / path.relative_to(override)).as_posix()
    if path.is_relative_to(SHIPPED_DIR):
        return f"feeds/templates/{path.relative_to(SHIPPED_DIR).as_posix()}"
    return filename


def _location(exc: BaseException, folders: tuple[Path, ...]) -> tuple[str | None, int | None]:
    """The template file and line an error came from: a syntax error says; for an
    error while rendering, the innermost frame that is a template's (jinja2
    rewrites the traceback so that those frames carry the template's file and line)."""
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if any(Path(name).is_relative_to(folder) for folder in folders):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _message(exc: BaseException) -> str:
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"template syntax error: {exc.message}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template not found: {exc.name}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined: {exc.message}"
    if isinstance(exc, UnicodeDecodeError):
        return "the template is not UTF-8 text"
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Templates:
    """The templates of one project (``root``; None: the shipped ones only).

    ``render`` gives a page's bytes. When the page's template, or one it uses,
    comes from ``config/templates/`` and fails on the data it is given, the
    shipped template renders the page instead and ``problems`` says why (file,
    line, message): one bad template must not stop the feeds from publishing.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.override = overrides_dir(root) if root is not None else None
        self._env: jinja2.Environment | None = None
        self._shipped: jinja2.Environment | None = None
        self.problems: list[str] = []

    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            self._env = _environment(self.override)
        return self._env

    def _shipped_env(self) -> jinja2.Environment:
        if self._shipped is None:
            self._shipped = _environment(None)
        return self._shipped

    def error(self, name: str, exc: BaseException) -> ConfigError:
        """``exc``, met rendering page ``name``, as a config error at its file and line."""
        folders = (SHIPPED_DIR,) if self.override is None else (self.override, SHIPPED_DIR)
        filename, line = _location(exc, folders)
        where = _display(filename, self.override) if filename else (TEMPLATES_DIR / name).as_posix()
        # When the error is in a template the page uses, say which page it broke.
        shown = where.rsplit("/", 1)[-1]
        context = "" if shown == name else f" (rendering {name})"
        return ConfigError(where, f"{_message(exc)}{context}", line=line)

    def render(self, name: str, /, **context: object) -> bytes:
        """Page ``name`` rendered with ``context``, as UTF-8."""
        try:
            text = self.env.get_template(name).render(context)
        except Exception as exc:  # an operator's template is code: any error it raises
            if self.override is None or not self.override.exists():
                raise EmitError(name, f"cannot render the shipped template: {self.error(name, exc)}") from exc
            self.problems.append(f"{self.error(name, exc)}; {name} was rendered with the shipped "
                                 "template instead (run 'feeds check')")
            try:
                text = self._shipped_env().get_template(name).render(context)
            except Exception as again:
                raise EmitError(name, f"cannot render the shipped template: {again}") from again
        # Entries hold no lone surrogates (xmlchars); "replace" keeps the page if one slips through.
        return text.encode("utf-8", "replace")


def render_page(project_root: Path | None, name: str, context: Mapping[str, object]) -> bytes:
    """One page from the project's templates (see ``Templates.render``)."""
    return Templates(project_root).render(name, **context)


def check_templates(root: Path,
                    samples: Mapping[str, Mapping[str, object]] | None = None) -> list[ConfigError]:
    """Every problem with the project's templates: each file in ``config/templates/``
    must compile, and each page (``samples``: page name → context; by default
    those of ``feeds.publish.pages.sample_contexts``) must render with sample data."""
    import jinja2

    if samples is None:
        from feeds.publish.pages import sample_contexts

        samples = sample_contexts()
    templates = Templates(root)
    folder = overrides_dir(root)
    errors: list[ConfigError] = []
    display = TEMPLATES_DIR.as_posix()
    if folder.exists() and not folder.is_dir():
        return [ConfigError(display, "is not a folder; put template files in a folder of that name")]
    if folder.is_dir():
        for path in _template_files(folder):
            name = path.relative_to(folder).as_posix()
            try:
                templates.env.get_template(name)
            except jinja2.TemplateNotFound:
                # A link or an unreadable file: the loader does not see it.
                errors.append(ConfigError((TEMPLATES_DIR / name).as_posix(),
                                          "cannot be read as a template (a symbolic link, or unreadable)"))
            except Exception as exc:
                errors.append(templates.error(name, exc))
    for name, context in samples.items():
        try:
            templates.env.get_template(name).render(context)
        except Exception as exc:
            errors.append(templates.error(name, exc))
    # A broken base.html breaks every page the same way: say it once.
    unique: dict[str, ConfigError] = {}
    for error in errors:
        unique.setdefault(f"{error.path}:{error.line}:{error.message.split(' (rendering ')[0]}", error)
    return list(unique.values())
