"""The kernel cache folder: generated modules, Numba's compiled kernels beside them, and their repair.

Note: what an entry is. A built model is one entry, named `shapeproof_<hash of the source>`:
`<cache>/<name>.py` (the generated module), Numba's index `<name>.<function>-<line>.pyXY.nbi` and
data files `<name>.<function>-<line>.pyXY.<k>.nbc` (in `<cache>/__pycache__`, or under
NUMBA_CACHE_DIR when that is set), and our `<name>.sums`: the size and CRC-32 of each of those
files, written once the entry's kernels have compiled. Writers go through a temporary file and
`os.replace`, so a killed build leaves a `*.tmp*` file behind, never half a file under a real name;
a disk that filled up, a crash before the data reached the disk, or a copy that went wrong can
still leave a short, empty or altered file. Such an entry is discarded and rebuilt with a one-line
warning: before import when a file differs from the `.sums` record (a silently altered kernel could
otherwise run and give wrong numbers), and when loading a kernel fails inside Numba's cache code.

`SHAPEPROOF_CACHE` sets the folder (default: ~/.cache/shapeproof). No generated-module `.pyc` is
written or read: the module is compiled from its source text (one kind of file less to go bad).
"""
from __future__ import annotations

import json
import os
import sys
import time
import zlib
from pathlib import Path

PREFIX = "shapeproof_"
STALE_TMP_S = 60  # a temporary file older than this belongs to a build that was killed


def cache_dir() -> Path:
    folder = Path(os.environ.get("SHAPEPROOF_CACHE") or Path.home() / ".cache" / "shapeproof")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def warn(message: str):
    """One line on stderr: the cache repairs itself, the user only needs to know it happened."""
    print(f"shapeproof: warning: {message}", file=sys.stderr, flush=True)


def numba_dirs(folder: Path) -> list[Path]:
    """Where Numba keeps the compiled kernels of modules in `folder`."""
    dirs = [folder / "__pycache__"]
    override = os.environ.get("NUMBA_CACHE_DIR")
    if override:
        dirs.append(Path(override))
    return dirs


def entry_files(name: str, folder: Path | None = None) -> list[Path]:
    """Every file of one entry: module, sums, Numba index and data, leftover temporaries."""
    folder = folder or cache_dir()
    found = [p for p in folder.glob(f"{name}.*") if p.is_file()]
    for d in numba_dirs(folder):
        if d.is_dir():
            found += [p for p in d.rglob(f"{name}.*") if p.is_file()]
    return sorted(set(found))


def all_files(folder: Path | None = None) -> list[Path]:
    """Every file the cache holds (entries of all models)."""
    folder = folder or cache_dir()
    found = [p for p in folder.glob(f"{PREFIX}*") if p.is_file()]
    for d in numba_dirs(folder):
        if d.is_dir():
            found += [p for p in d.rglob(f"{PREFIX}*") if p.is_file()]
    return sorted(set(found))


def is_temporary(path: Path) -> bool:
    return ".tmp" in path.name


def discard(name: str, folder: Path | None = None):
    """Delete an entry's files (a file another process removed first is no error)."""
    for path in entry_files(name, folder):
        path.unlink(missing_ok=True)


def _sums_path(name: str, folder: Path) -> Path:
    return folder / f"{name}.sums"


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def record(name: str, folder: Path | None = None):
    """Write `<name>.sums` for the entry's files as they are now (after a compile that saved kernels).

    Compiling is not byte-for-byte repeatable, so two processes building the same entry at once write
    different files: the sums are read back after writing and redone until they match what is on disk.
    """
    folder = folder or cache_dir()
    for _ in range(4):
        sums = _sums_now(name, folder)
        _write_atomic(_sums_path(name, folder), json.dumps(sums, indent=0).encode())
        if _sums_now(name, folder) == sums:
            return


def _sums_now(name: str, folder: Path) -> dict:
    sums = {}
    for p in entry_files(name, folder):
        if p.suffix in (".py", ".nbi", ".nbc") and not is_temporary(p):
            try:
                sums[_key(p, folder)] = [p.stat().st_size, _crc(p)]
            except FileNotFoundError:
                pass
    return sums


def _key(path: Path, folder: Path) -> str:
    """A file's name in the sums: relative to the cache folder (which may be copied or moved)."""
    try:
        return str(path.relative_to(folder))
    except ValueError:  # under NUMBA_CACHE_DIR
        return str(path)


def record_if_changed(name: str, folder: Path | None = None):
    """record() when a file of the entry is newer than its sums (kernels were compiled and saved)."""
    folder = folder or cache_dir()
    try:
        since = _sums_path(name, folder).stat().st_mtime_ns
    except FileNotFoundError:
        since = -1
    for p in entry_files(name, folder):
        try:
            if p.suffix in (".py", ".nbi", ".nbc") and p.stat().st_mtime_ns >= since:
                record(name, folder)
                return
        except FileNotFoundError:
            pass


def damage(name: str, source: str, folder: Path | None = None) -> str | None:
    """Why the entry on disk cannot be trusted, or None (also None for an entry not built yet)."""
    folder = folder or cache_dir()
    module = folder / f"{name}.py"
    try:
        if module.exists() and module.read_bytes() != source.encode():
            return f"{module.name} differs from the generated source"
    except OSError as e:
        return f"{module.name} is unreadable ({e})"
    sums_path = _sums_path(name, folder)
    if not sums_path.exists():
        return None
    try:
        sums = json.loads(sums_path.read_text())
        assert isinstance(sums, dict)
    except (OSError, ValueError, AssertionError):
        return f"{sums_path.name} is unreadable"
    for file, (size, crc) in sums.items():
        path = folder / file
        try:
            if path.stat().st_size != size or _crc(path) != crc:
                return f"{path.name} was altered or cut short"
        except FileNotFoundError:  # removed by hand: Numba compiles that kernel again, nothing to repair
            continue
        except OSError as e:
            return f"{path.name} is unreadable ({e})"
    return None


def stale_temporaries(name: str, folder: Path | None = None) -> list[Path]:
    """Temporary files of an entry left by a build that was killed (old enough that no live writer owns them)."""
    now = time.time()
    found = []
    for p in entry_files(name, folder):
        try:
            if is_temporary(p) and now - p.stat().st_mtime > STALE_TMP_S:
                found.append(p)
        except FileNotFoundError:
            pass
    return found


def prepare(name: str, source: str, folder: Path | None = None):
    """Make the entry fit to import: a damaged entry discarded (one warning), stale temporaries removed,
    the module file written."""
    folder = folder or cache_dir()
    reason = damage(name, source, folder)
    if reason:
        warn(f"damaged kernel cache entry {name} ({reason}): discarded, rebuilding it")
        discard(name, folder)
    else:
        stale = stale_temporaries(name, folder)
        if stale:
            warn(f"removed {len(stale)} unfinished file(s) of {name} left in the kernel cache by an interrupted build")
            for p in stale:
                p.unlink(missing_ok=True)
    path = folder / f"{name}.py"
    if not path.exists():
        _write_atomic(path, source.encode())


def _write_atomic(path: Path, data: bytes):
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a concurrent process never reads half a file


def from_cache_loading(error: BaseException) -> bool:
    """Whether an exception was raised while Numba read a cached kernel (a damaged entry, not a bug)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        tb = error.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.replace("\\", "/").endswith("/caching.py") and code.co_name.startswith("_load") \
                    or code.co_name == "load_overload":
                return True
            tb = tb.tb_next
        error = error.__cause__ or error.__context__
    return False


def summary(folder: Path | None = None) -> dict:
    """What `shapeproof cache info` shows."""
    folder = folder or cache_dir()
    files = all_files(folder)
    entries = sorted({p.name.split(".")[0] for p in files if p.suffix == ".py" and not is_temporary(p)})
    size = 0
    for p in files:
        try:
            size += p.stat().st_size
        except FileNotFoundError:
            pass
    return {"location": str(folder), "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR") or None,
            "entries": len(entries), "files": len(files), "bytes": size,
            "compiled_files": sum(p.suffix in (".nbi", ".nbc") for p in files),
            "temporary_files": sum(is_temporary(p) for p in files)}


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Delete every cache file: (files, bytes) removed."""
    count = size = 0
    for p in all_files(folder):
        try:
            size += p.stat().st_size
            p.unlink()
            count += 1
        except FileNotFoundError:
            pass
    return count, size
