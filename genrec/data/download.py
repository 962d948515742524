"""Fetch a raw file: resumable (HTTP Range on a `.part` file), checked against sha256, renamed into
place only when complete, so the output path never holds half a file.

A file's checksum is the published one where `config/datasets.yaml` gives it (`sha256`). Otherwise the first
download records it in a lock file (`config/downloads.lock.json`, url -> sha256, to commit like any lock file)
and every later download of that url must match it: the data a result was computed on cannot change unnoticed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from tqdm.auto import tqdm

from genrec.errors import GenrecError

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def locked_checksums(lock: Path) -> Iterator[dict[str, str]]:
    """The lock file's url -> sha256, held exclusively (parallel downloads each add theirs) and written back."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock.with_name(lock.name + ".flock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        checksums = json.loads(lock.read_text()) if lock.exists() else {}
        before = dict(checksums)
        yield checksums
        if checksums != before:
            tmp = lock.with_name(lock.name + ".tmp")
            tmp.write_text(json.dumps(dict(sorted(checksums.items())), indent=2) + "\n")
            os.replace(tmp, lock)


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0,
             lock: str | Path | None = None) -> Path:
    """`url` into `dest`, verified against `sha256`, else against (or, the first time, recorded in) `lock`."""
    if sha256 is None and lock is not None:
        with locked_checksums(Path(lock)) as checksums:
            recorded = checksums.get(url)
        fetched = download(url, dest, recorded, timeout)
        if recorded is None:
            with locked_checksums(Path(lock)) as checksums:
                checksums.setdefault(url, sha256_of(fetched))
        return fetched
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"Range": f"bytes={have}-", "User-Agent": "genrec"} if have else {"User-Agent": "genrec"})
    offline_fix = (f"check the network, or fetch the file by hand and save it as {dest} "
                   "(or `dvc pull` if this project's artifacts are on a DVC remote)")
    try:
        response = urlopen(request, timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and have:  # the .part already holds the whole file
            response = None
        else:
            raise GenrecError(f"download failed: HTTP {exc.code} {exc.reason} for {url}", path=dest, fix=offline_fix) from None
    except (URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GenrecError(f"cannot reach {url} ({reason}); are you offline?", path=dest, fix=offline_fix) from None
    if response is not None:
        with response:
            resumed = have > 0 and getattr(response, "status", 200) == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = int(length) + have if length else None
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=f"download {dest.name}", leave=False
            ) as bar:
                try:
                    while block := response.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
                except (OSError, TimeoutError) as exc:
                    raise GenrecError(f"download of {url} broke off after {out.tell()} bytes ({exc})", path=dest,
                                      fix="run the same command again: it resumes from the partial file") from None
    if sha256:
        actual = sha256_of(part)
        if actual != sha256:
            part.unlink()
            raise GenrecError(f"checksum mismatch: expected sha256 {sha256}, got {actual}", path=dest,
                              fix="the partial file was deleted; download again. If the source changed on purpose, "
                                  "correct `sha256` in config/datasets.yaml or drop the url from the lock file")
    os.replace(part, dest)
    return dest

