"""The download rule's fetcher against a local HTTP server (loopback only): resume, checksum, offline."""

import hashlib
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genrec.data.download import download
from genrec.errors import GenrecError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves PAYLOAD at any path, honouring `Range: bytes=N-` like the Amazon data servers do."""

    served_ranges: list = []

    def do_GET(self):
        start = 0
        if (header := self.headers.get("Range")) and header.startswith("bytes="):
            start = int(header[6:].split("-")[0])
        self.served_ranges.append(start)
        if start >= len(PAYLOAD):
            self.send_response(416)
            self.end_headers()
            return
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    RangeHandler.served_ranges = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_verifies_checksum(server, tmp_path):
    dest = download(f"{server}/x.json.gz", tmp_path / "x.json.gz", hashlib.sha256(PAYLOAD).hexdigest())
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "x.json.gz.part").exists()


def test_download_resumes_a_partial_file(server, tmp_path):
    (tmp_path / "x.json.gz.part").write_bytes(PAYLOAD[:300_000])
    dest = download(f"{server}/x.json.gz", tmp_path / "x.json.gz", hashlib.sha256(PAYLOAD).hexdigest())
    assert dest.read_bytes() == PAYLOAD
    assert RangeHandler.served_ranges == [300_000]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    with pytest.raises(GenrecError, match="checksum mismatch"):
        download(f"{server}/x.json.gz", tmp_path / "x.json.gz", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_offline_gives_a_clear_message(tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GenrecError) as err:
        download(f"http://127.0.0.1:{port}/x.json.gz", tmp_path / "x.json.gz", timeout=5)
    assert "cannot reach" in err.value.message and "by hand" in err.value.message
    assert not (tmp_path / "x.json.gz").exists()


def test_a_file_without_a_published_checksum_is_locked_by_its_first_download(server, tmp_path):
    import json

    lock = tmp_path / "config" / "downloads.lock.json"
    url = f"{server}/x.json.gz"
    download(url, tmp_path / "a" / "x.json.gz", lock=lock)
    assert json.loads(lock.read_text()) == {url: hashlib.sha256(PAYLOAD).hexdigest()}
    download(url, tmp_path / "b" / "x.json.gz", lock=lock)             # the same bytes: accepted
    lock.write_text(json.dumps({url: "0" * 64}))                        # the source changed since it was locked
    with pytest.raises(GenrecError, match="(?s)checksum mismatch.*drop the url from the lock file"):
        download(url, tmp_path / "c" / "x.json.gz", lock=lock)
    assert not (tmp_path / "c" / "x.json.gz").exists()
