"""Checks of the folders the command line writes to, made before any training.

A figure at the paper's protocol trains for hours (PAPER.md §6), so a path that cannot be
written must be refused at the start, not found out at the end: every folder the command line
writes (the results store, the output folder, the records folder, a student copy's folder) is
checked here first. A refusal is a ``ValueError`` whose one-line message names the parameter.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

STORE_ENV = "VALINT_RESULTS"
"""Environment variable holding the results store's folder (``experiments.default_store``)."""


def check_folder(name: str, value: str | Path) -> Path:
    """Return ``value`` as a path if it is a folder this process can write in, or can create.

    Nothing is left behind: writability is tried with a file made and removed at once in the
    nearest folder that exists (the folder itself, or the ancestor it would be made in).

    Args:
        name: the parameter, as the message should name it (``--store``, ``DIR``).
        value: the path as given; an empty string is refused, since it would mean the working
            directory.

    Raises:
        ValueError: the path is empty, is a file or lies below one, or cannot be written.
    """
    text = str(value)
    if not text.strip():
        raise ValueError(f"{name} must not be empty (an empty path would mean the working directory)")
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name}={text!r} is a file, not a folder")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path.cwd())
    if not existing.is_dir():
        raise ValueError(f"{name}={text!r} lies below {str(existing)!r}, which is a file")
    try:
        handle, probe = tempfile.mkstemp(prefix=".valint-probe-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{name}={text!r} cannot be written ({existing}: {err.strerror})") from None
    return folder


def store_folder(given: str | None) -> tuple[str, Path]:
    """The results store's folder as the command line takes it, checked: ``--store``, else
    ``$VALINT_RESULTS``, else ``results/``. Returns the parameter that named it and the folder.

    Raises:
        ValueError: the folder fails :func:`check_folder`; ``$VALINT_RESULTS`` set but empty is
            refused too, rather than putting the store in the working directory.
    """
    if given is not None:
        return "--store", check_folder("--store", given)
    env = os.environ.get(STORE_ENV)
    if env is None:
        return "--store", check_folder("--store", "results")
    return STORE_ENV, check_folder(STORE_ENV, env)


def check_store_env() -> None:
    """Refuse ``$VALINT_RESULTS`` set to an empty string (a notebook's default store).

    Raises:
        ValueError: naming the variable.
    """
    env = os.environ.get(STORE_ENV)
    if env is not None and not env.strip():
        raise ValueError(f"{STORE_ENV} must not be empty (an empty path would mean the working "
                         "directory); unset it or name a folder")


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, once both are resolved."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
