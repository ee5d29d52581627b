"""Write a render into Trino's etc/ all at once: generation directories and one symlink swap.

Split from render.py, which stays pure (settings in, file texts out); this is the half that
touches the disk, and what the bootstrap checks on a reboot (is_complete).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from node_agent.durable import fsync_dir
from node_agent.render import RenderError

RENDERED_MARKER = ".rendered"  # written last into each generation; its content is the digest


def digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def write_atomically(files: dict[str, str], etc_dir: Path) -> None:
    """Make etc_dir hold exactly `files`, all at once, or leave it as it was.

    Each render is written into its own generation directory beside etc_dir, named after the
    content's digest, and etc_dir is a symlink that is swapped with one rename(2). Trino therefore
    sees either the old complete config or the new complete one, never a mix; rendering the same
    content twice touches nothing. A real directory found at etc_dir (an image default) is moved
    aside once, to <etc_dir>.pre-render.
    """
    etc_dir = Path(etc_dir)
    for rel in files:
        if rel.startswith("/") or ".." in Path(rel).parts:
            raise RenderError(f"refusing to write {rel!r} outside {etc_dir}")
    parent = etc_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tag = digest(files)[:16]
    generation = parent / f".{etc_dir.name}.{tag}"
    if etc_dir.is_symlink() and os.readlink(etc_dir) == generation.name and is_complete(etc_dir):
        return
    if not (generation / RENDERED_MARKER).exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{etc_dir.name}.staging-", dir=parent))
        try:
            staging.chmod(0o750)  # mkdtemp makes 0700: Trino's group must be able to enter
            for rel, content in files.items():
                target = staging / rel
                for directory in reversed(target.relative_to(staging).parents[:-1]):
                    (staging / directory).mkdir(exist_ok=True)
                    (staging / directory).chmod(0o750)  # whatever the umask
                _write_file(target, content)
            _write_file(staging / RENDERED_MARKER, digest(files) + "\n")
            if generation.exists():
                shutil.rmtree(generation)  # an earlier crash left it without its marker
            os.rename(staging, generation)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(parent)
    if etc_dir.exists() and not etc_dir.is_symlink():
        backup = parent / f"{etc_dir.name}.pre-render"
        if backup.exists():
            shutil.rmtree(backup)
        os.rename(etc_dir, backup)
    link = parent / f".{etc_dir.name}.link-{os.getpid()}"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(generation.name, link)
    os.rename(link, etc_dir)
    fsync_dir(parent)
    _remove_old_generations(parent, etc_dir.name, keep=generation.name)


def is_complete(etc_dir: Path) -> bool:
    """True when etc_dir is a finished render (its marker matches its content)."""
    marker = Path(etc_dir) / RENDERED_MARKER
    if not marker.is_file():
        return False
    root = Path(etc_dir).resolve()
    files = {
        str(p.relative_to(root)): p.read_text()
        for p in root.rglob("*")
        if p.is_file() and p.name != RENDERED_MARKER
    }
    return marker.read_text().strip() == digest(files)


def _write_file(path: Path, content: str) -> None:
    # 0640: readable by the trino group, never by everyone (shared secret, keystore, passwords).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.fchmod(fd, 0o640)  # whatever the umask
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _remove_old_generations(parent: Path, name: str, keep: str) -> None:
    for entry in parent.iterdir():
        if entry.name.startswith(f".{name}.") and entry.name != keep and entry.is_dir():
            if entry.name.startswith(f".{name}.staging-"):
                continue  # another writer may be busy with it
            shutil.rmtree(entry, ignore_errors=True)
