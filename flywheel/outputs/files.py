"""Results folders written safely: named, claimed, checked, replaced, cleaned.

A folder is first written in full under a hidden temporary name beside its destination,
then renamed into place in one step: a reader never sees half a result, and a crash
leaves no partial folder under the real name.  Default names are safe slugs of the
scenario's name, always under ``results/``, and unique; every folder carries a marker
(:data:`MARKER`) listing the files Flywheel wrote, and an existing folder is replaced only
when asked (``force``), only when it is Flywheel's and holds nothing else, and only once
the new one is complete.
"""


from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flywheel.scenario.files import SLUG_LENGTH, slug
from flywheel.version import __version__


class ResultsExistError(FileExistsError):
    """The output folder exists and overwriting was not asked for (or is not allowed)."""


class OutputError(OSError):
    """The results cannot be written there: not a folder, not writable, disk full..."""


#: The marker file inside every folder Flywheel writes: JSON naming the writer and every
#: file it wrote.  ``--force`` replaces a folder only when the marker lists all it holds.
MARKER = ".flywheel.json"
_PARTIAL = re.compile(r"^\..+\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.(partial|old)$")

__all__ = ["MARKER", "SLUG_LENGTH", "OutputError", "ResultsExistError", "check_out",
           "clean_leftovers", "csv_cell", "default_out_dir", "is_ours", "slug",
           "write_csv", "write_file", "write_folder", "write_json"]
def default_out_dir(name: str, root: Path | str = "results",
                    now: datetime | None = None) -> Path:
    """``results/<slug of name>-<YYYYmmdd-HHMMSS>``: the one place every command's default
    results folder is named.  The name alone does not make it unique; writing it with
    ``unique=True`` does (two runs started in the same second get ``...-2``)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{slug(name)}-{stamp}"


def _clean(x: Any) -> Any:
    """JSON has no NaN: missing values are written as null."""
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, NaN and infinities written as null."""
    path.write_text(json.dumps(_clean(data), indent=2, allow_nan=False) + "\n")


#: A text cell starting with one of these is read as a formula by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One CSV cell: NaN empty, floats to 10 significant digits, and text that a
    spreadsheet would run as a formula (``=HYPERLINK(...)``) prefixed with ``'``."""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.10g}"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, header: list[str], rows: Any) -> None:
    """A CSV table with a header row; cells through :func:`csv_cell`."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([csv_cell(h) for h in header])
        for row in rows:
            w.writerow([csv_cell(v) for v in row])


def _protected(path: Path) -> str | None:
    """Why ``path`` may never be a results folder, or None: the current folder or one
    above it, the home folder, the file-system root."""
    try:
        here = Path.cwd().resolve()
    except OSError:
        here = None
    home = Path.home().resolve()
    if path == Path(path.anchor):
        return "is the root of the file system"
    if path == home:
        return "is your home folder"
    if here is not None and (path == here or path in here.parents):
        return "is the current folder or one above it"
    return None


def _manifest(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder Flywheel wrote, or None."""
    try:
        data = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None


def _files(folder: Path) -> list[str]:
    """Every file and link under ``folder``, as relative POSIX paths, the marker left out."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath).relative_to(folder)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            rel = (base / name).as_posix()
            if rel != MARKER:
                found.append(rel)
    return sorted(found)


def _foreign(folder: Path) -> list[str]:
    """What in ``folder`` Flywheel did not write (everything, without a marker)."""
    manifest = _manifest(folder)
    ours = set(manifest["files"]) if manifest else set()
    return [f for f in _files(folder) if f not in ours]


def is_ours(folder: Path | str) -> bool:
    """Whether ``folder`` is a folder Flywheel wrote that holds nothing else (what
    ``--force`` may replace, and what the demo may move aside)."""
    folder = Path(folder)
    return (folder.is_dir() and not folder.is_symlink() and _manifest(folder) is not None
            and not _foreign(folder))


def check_out(out: Path | str, force: bool, unique: bool = False) -> None:
    """Check a results folder before anything runs, so nobody waits for a run that
    cannot be saved; checked again when writing.

    Refused: an existing path without ``force``; with ``force``, anything but an empty
    folder or a folder Flywheel wrote (a file, a folder holding other files); always the
    current folder or one above it, the home folder and the root; a folder whose nearest
    existing parent is not a writable folder.  With ``unique`` (a default folder name,
    made unique when written) an existing folder of that name is no obstacle.
    """
    out = Path(out)
    try:
        resolved = out.resolve()
        exists = os.path.lexists(out)
    except (OSError, RuntimeError, ValueError) as exc:
        raise OutputError(f"{out}: not a usable results folder ({_reason(exc)})") from None
    why = _protected(resolved)
    if why:
        raise ResultsExistError(f"{out} {why}; give --out a folder of its own, such as "
                                "results/my-run")
    if exists and not unique:
        if not force:
            raise ResultsExistError(
                f"{out} already exists; choose another --out or pass --force to replace it")
        if out.is_symlink() or not out.is_dir():
            raise ResultsExistError(f"{out} is a file, not a results folder; --force replaces "
                                    "only a folder Flywheel wrote")
        foreign = _foreign(out)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more"
                                              if len(foreign) > 3 else "")
            raise ResultsExistError(
                f"{out} holds files Flywheel did not write ({shown}); --force replaces only "
                "a folder Flywheel wrote: choose another --out")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write in {parent} (permission denied)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc) or type(exc).__name__


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: alive
        return True
    return True


def clean_leftovers(folder: Path | str) -> list[Path]:
    """Remove what killed runs left in ``folder``: the hidden ``.<name>.<pid>.<x>.partial``
    (and ``.old``) folders of writers no longer running, recognised by Flywheel's marker.
    Returns what was removed."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if (m and not entry.is_symlink() and entry.is_dir() and not _alive(int(m["pid"]))
                and (entry / MARKER).is_file()):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def write_file(path: Path | str, data: bytes) -> Path:
    """Write one file atomically: a temporary file in the same folder, then
    :func:`os.replace`, so a reader never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for reading
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _marker(folder: Path, kind: str, state: str) -> None:
    (folder / MARKER).write_text(json.dumps(
        {"written_by": f"flywheel {__version__}", "kind": kind, "state": state,
         "files": _files(folder)}, indent=2) + "\n")


def _claim(out: Path, unique: bool) -> Path:
    """Create ``out`` (empty) as this writer's own; with ``unique``, the first free one of
    ``out``, ``out-2``, ``out-3``... so writers started together never share a folder."""
    k = 1
    while True:
        target = out if k == 1 else out.with_name(f"{out.name}-{k}")
        try:
            os.mkdir(target)
            return target
        except FileExistsError:
            if not unique:
                raise ResultsExistError(f"{out} appeared while this run was working; its "
                                        "results were not written: choose another --out") from None
            k += 1


def write_folder(out: Path | str, force: bool, fill: Callable[[Path], None],
                 unique: bool = False, kind: str = "run") -> Path:
    """Write a results folder through ``fill(tmp)`` under a hidden temporary name beside
    ``out``, then move it into place in one step, and return where it went.

    ``out`` must pass :func:`check_out` (with ``force``, an existing folder Flywheel wrote
    is replaced, only once the new one is complete).  With ``unique`` (default folder
    names), a folder of that name already there is left alone and ``out-2``, ``out-3``...
    is used.  Any failure (disk full, permissions) removes what was written and raises
    :class:`OutputError`; leftovers of killed writers beside ``out`` are cleaned first.
    """
    out = Path(out)
    check_out(out, force, unique)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".partial",
                                    dir=out.parent))
    except OSError as exc:
        raise OutputError(f"{out}: cannot write results ({_reason(exc)})") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are for reading
        _marker(tmp, kind, "partial")  # so a leftover is known for ours
        fill(tmp)
        _marker(tmp, kind, "complete")
        if unique:
            target = _claim(out, unique=True)
            os.rename(tmp, target)  # onto our own empty claim
        elif os.path.lexists(out):
            check_out(out, force)  # still ours, and still asked for
            old = out.with_name(f".{out.name}.{os.getpid()}.x.old")
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
            target = out
        else:
            target = _claim(out, unique=False)
            os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, (ResultsExistError, OutputError)):
            raise
        raise OutputError(f"{out}: cannot write results ({_reason(exc)}); nothing was "
                          "kept") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


