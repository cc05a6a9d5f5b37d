"""Sphinx extension: the book serves its own MathJax, so its pages need no network.

Sphinx loads MathJax 3 from a CDN by default; offline (a classroom without internet, a
projector laptop) every equation would then stay raw TeX. This extension copies the MathJax 3
distribution that the pinned dependency ``django-static-mathjax`` installs (the upstream
``mathjax-full`` 3.2.2 release, unchanged; the package needs no Django) into the built book's
``_static/mathjax/`` folder, and checks that ``mathjax_path`` in ``_config.yml`` points there
rather than at a URL.

``_config.yml`` lists it under ``sphinx.extra_extensions`` as ``valint.offline`` and sets
``mathjax_path: mathjax/tex-mml-chtml.js`` (a path under ``_static``, the component Sphinx loads
from the CDN by default). The whole ``es5`` tree is copied, about 24 MB, so that what MathJax
loads on demand (TeX extensions, the fonts, the accessibility menu) is there too.

This module imports nothing from ``valint``, so the Sphinx process stays light.
"""
from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

MATHJAX_DISTRIBUTION = "django-static-mathjax"
"""The PyPI distribution that ships MathJax (pinned in pyproject.toml)."""

MATHJAX_TREE = "mathjax/static/mathjax/es5"
"""The folder of MathJax's browser components inside that distribution."""

STATIC_FOLDER = "mathjax"
"""Where the components go in the built book, relative to its ``_static`` folder."""

ENTRY_POINT = "tex-mml-chtml.js"
"""The component the pages load; ``mathjax_path`` must name it under ``STATIC_FOLDER``."""


class OfflineMathError(RuntimeError):
    """MathJax is not installed, or the book is configured to load it from the network."""


def mathjax_tree() -> Path:
    """The installed MathJax components (the ``es5`` folder of ``django-static-mathjax``).

    Raises:
        OfflineMathError: the distribution is not installed, or lacks ``ENTRY_POINT``.
    """
    try:
        distribution = metadata.distribution(MATHJAX_DISTRIBUTION)
    except metadata.PackageNotFoundError as error:
        raise OfflineMathError(
            f"{MATHJAX_DISTRIBUTION} is not installed; it ships the MathJax that the book serves "
            "itself (pip install -e . installs it)") from error
    tree = Path(distribution.locate_file(MATHJAX_TREE))
    if not (tree / ENTRY_POINT).is_file():
        raise OfflineMathError(f"{MATHJAX_DISTRIBUTION} {distribution.version} has no "
                               f"{MATHJAX_TREE}/{ENTRY_POINT}")
    return tree


def _check_config(app, config) -> None:
    """``config-inited``: refuse a ``mathjax_path`` that is a URL or names another file."""
    from sphinx.errors import ExtensionError

    expected = f"{STATIC_FOLDER}/{ENTRY_POINT}"
    if config.mathjax_path != expected:
        raise ExtensionError(f"valint.offline serves MathJax from the book itself: set "
                             f"mathjax_path: {expected} in _config.yml (got "
                             f"{config.mathjax_path!r})")
    try:
        mathjax_tree()
    except OfflineMathError as error:
        raise ExtensionError(str(error)) from error


def _copy_mathjax(app, exception: BaseException | None) -> None:
    """``build-finished``: copy the components into ``<outdir>/_static/mathjax``."""
    if exception is not None or app.builder.format != "html":
        return
    shutil.copytree(mathjax_tree(), Path(app.outdir) / "_static" / STATIC_FOLDER,
                    dirs_exist_ok=True)


def setup(app) -> dict[str, object]:
    """Register the checks and the copy step with Sphinx."""
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _check_config)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
