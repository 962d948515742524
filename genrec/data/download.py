"""Fetch a raw file: resumable (HTTP Range on a `.part` file), checked against sha256, renamed into
place only when complete, so the output path never holds half a file."""

from __future__ import annotations

import hashlib
import os
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


def download(url: str, dest: str | Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
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
                              fix="the partial file was deleted; download again, or correct `sha256` in config/datasets.yaml")
    os.replace(part, dest)
    return dest

