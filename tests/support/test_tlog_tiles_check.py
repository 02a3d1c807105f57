#!/usr/bin/python3
"""Unit tests for tlog_tiles_check.py.

    /usr/bin/python3 tests/support/test_tlog_tiles_check.py [-v]

Logs are produced by a small writer below, written from the C2SP tlog-tiles,
signed-note and tlog-cosignature specs (not from the checker's code), into
temporary directories, then checked, tampered with, and checked again.
"""

import base64
import contextlib
import gzip
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tlog_tiles_check as tc  # noqa: E402

CHECKER = os.path.join(HERE, "tlog_tiles_check.py")
ORIGIN = "example.test/custos-log"
WITNESS = "witness.example.test/w1"


# --- a tiny tlog-tiles writer (independent of the checker) --------------------


def sha256(b):
    return hashlib.sha256(b).digest()


def mth(leaves, lo, hi):
    """RFC 6962 MTH over leaf hashes[lo:hi], straight from the definition."""
    if hi - lo == 1:
        return leaves[lo]
    k = 1
    while k * 2 < hi - lo:
        k *= 2
    return sha256(b"\x01" + mth(leaves, lo, lo + k) + mth(leaves, lo + k, hi))


def rfc6962_path(leaves, m, lo, hi):
    """RFC 6962 PATH(m, D[lo:hi]) over leaf hashes."""
    if hi - lo <= 1:
        return []
    k = 1
    while k * 2 < hi - lo:
        k *= 2
    if m < k:
        return rfc6962_path(leaves, m, lo, lo + k) + [mth(leaves, lo + k, hi)]
    return rfc6962_path(leaves, m - k, lo + k, hi) + [mth(leaves, lo, lo + k)]


def n_path(n):
    """<N>: zero-padded 3-digit groups, 'x' on all but the last."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def write_file(root, rel, data):
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_log(root, entries, published_sizes):
    """Write full tiles/bundles for all entries, and the partial tiles and
    bundles a log serves for each checkpoint size it published. Returns the
    leaf hashes."""
    leaves = [sha256(b"\x00" + e) for e in entries]
    levels = [leaves]  # levels[L]: hashes of level L, each over 256**L entries
    while len(levels[-1]) >= 256:
        below = levels[-1]
        levels.append([mth(below, i * 256, i * 256 + 256) for i in range(len(below) // 256)])
    for level, hashes in enumerate(levels):
        for n in range(len(hashes) // 256):
            write_file(root, f"tile/{level}/{n_path(n)}", b"".join(hashes[n * 256 : n * 256 + 256]))
    for n in range(len(entries) // 256):
        write_file(root, f"tile/entries/{n_path(n)}", bundle(entries[n * 256 : n * 256 + 256]))
    for size in published_sizes:
        for level, hashes in enumerate(levels):
            count = size // 256**level  # hashes at this level for this tree size
            n, width = divmod(count, 256)
            if width:
                write_file(root, f"tile/{level}/{n_path(n)}.p/{width}", b"".join(hashes[n * 256 : count]))
        n, width = divmod(size, 256)
        if width:
            write_file(root, f"tile/entries/{n_path(n)}.p/{width}", bundle(entries[n * 256 : size]))
    return leaves


def bundle(entries):
    return b"".join(len(e).to_bytes(2, "big") + e for e in entries)


class Signer:
    """An Ed25519 key as a note signer (type 0x01) or a cosigner (type 0x04)."""

    def __init__(self, name, sig_type):
        self.name, self.sig_type = name, sig_type
        self.key = Ed25519PrivateKey.generate()
        pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = sha256(name.encode() + b"\n" + bytes([sig_type]) + pub)[:4]
        self.vkey = f"{name}+{self.key_id.hex()}+{base64.b64encode(bytes([sig_type]) + pub).decode()}"

    def line(self, body, timestamp=1700000000):
        if self.sig_type == 0x01:
            sig = self.key_id + self.key.sign(body)
        else:
            msg = b"cosignature/v1\ntime %d\n" % timestamp + body
            sig = self.key_id + timestamp.to_bytes(8, "big") + self.key.sign(msg)
        return f"\u2014 {self.name} {base64.b64encode(sig).decode()}\n".encode()


def checkpoint(size, root, signers, origin=ORIGIN):
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()
    return body + b"\n" + b"".join(s.line(body) for s in signers)


def sample_entries(count):
    """Varied lengths (0 to ~1 KiB), some text, some not UTF-8."""
    out = []
    for i in range(count):
        if i % 7 == 3:
            out.append(bytes([0xFF, i % 256]) + os.urandom(i % 40))  # never valid UTF-8
        elif i % 101 == 5:
            out.append(b"")
        else:
            out.append((f"entry {i} " + "x" * ((i * 37) % 1000)).encode())
    return out


class Log:
    """A log directory plus the keys that sign its checkpoints."""

    def __init__(self, parent, entries, published_sizes, name="log"):
        self.dir = os.path.join(parent, name)
        os.makedirs(self.dir)
        self.entries = entries
        self.leaves = write_log(self.dir, entries, published_sizes)
        self.log_signer = Signer(ORIGIN, 0x01)
        self.witness = Signer(WITNESS, 0x04)

    def root(self, size):
        return mth(self.leaves, 0, size) if size else sha256(b"")

    def publish(self, size, signers=None, root=None):
        signers = [self.log_signer, self.witness] if signers is None else signers
        data = checkpoint(size, self.root(size) if root is None else root, signers)
        write_file(self.dir, "checkpoint", data)
        return data

    def check(self, indices=(), all_indices=False, cosigners=None, base=None):
        cosigners = [self.witness.vkey] if cosigners is None else cosigners
        return tc.check_log(
            tc.open_source(base or self.dir), self.log_signer.vkey, cosigners, indices, all_indices
        )

    def path(self, rel):
        return os.path.join(self.dir, *rel.split("/"))


@contextlib.contextmanager
def tampered(path, change):
    """Temporarily replace a file's bytes with change(bytes)."""
    with open(path, "rb") as f:
        original = f.read()
    with open(path, "wb") as f:
        f.write(change(original))
    try:
        yield
    finally:
        with open(path, "wb") as f:
            f.write(original)


def flip(offset):
    return lambda b: b[:offset] + bytes([b[offset] ^ 0x01]) + b[offset + 1 :]


# --- tests -----------------------------------------------------------------------


class TestPieces(unittest.TestCase):
    def test_encode_index(self):
        for n, want in [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"),
                        (1234067, "x001/x234/067"), (1000000, "x001/x000/000")]:
            self.assertEqual(tc.encode_index(n), want)
            self.assertEqual(n_path(n), want)
        self.assertEqual(tc.tile_path(0, 273, 112), "tile/0/273.p/112")
        self.assertEqual(tc.bundle_path(1234067), "tile/entries/x001/x234/067")

    def test_signed_note_spec_example(self):
        # The example vkey and note from signed-note.md.
        vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
        note = ("This is an example message.\n\n\u2014 example.com/foo "
                "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
        key = tc.parse_vkey(vkey, 0x01, "test")
        # Not a checkpoint body, so only signature checking must get through.
        with self.assertRaisesRegex(tc.CheckError, "at least 3 non-empty lines"):
            tc.verify_checkpoint(note.encode(), key, [])
        bad = note.replace("example message", "example massage")
        with self.assertRaisesRegex(tc.CheckError, "does not verify"):
            tc.verify_checkpoint(bad.encode(), key, [])

    def test_vkey_errors(self):
        s = Signer("a.example/k", 0x01)
        tc.parse_vkey(s.vkey, 0x01, "k")
        with self.assertRaisesRegex(tc.CheckError, "signature type"):
            tc.parse_vkey(s.vkey, 0x04, "k")
        wrong_id = s.vkey.replace(s.key_id.hex(), "00000000")
        with self.assertRaisesRegex(tc.CheckError, "does not match"):
            tc.parse_vkey(wrong_id, 0x01, "k")

    def test_inclusion_proofs_match_rfc6962(self):
        entries = sample_entries(1000)
        with tempfile.TemporaryDirectory() as tmp:
            log = Log(tmp, entries, [1000])
            tree = tc.TiledTree(tc.open_source(log.dir), 1000)
            self.assertEqual(tree.mth(0, 1000), log.root(1000))
            for i in [0, 1, 255, 256, 511, 512, 767, 768, 999]:
                proof = tree.inclusion_proof(i)
                self.assertEqual(proof, rfc6962_path(log.leaves, i, 0, 1000))
                self.assertTrue(tc.verify_inclusion(i, 1000, log.leaves[i], proof, log.root(1000)))
                self.assertFalse(tc.verify_inclusion(i, 1000, log.leaves[i - 1], proof, log.root(1000)))


class TestLogs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.entries = sample_entries(70000)
        # A log that grew to 70000 entries having published checkpoints at these
        # sizes: stale partial tiles coexist with the full tiles that replaced them.
        cls.grown = Log(cls.tmp.name, cls.entries, [1, 255, 256, 257, 600, 70000], "grown")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def assert_results(self, log, report, size, indices):
        self.assertEqual(report.checkpoint.size, size)
        self.assertEqual(report.checkpoint.origin, ORIGIN)
        self.assertEqual([r[0] for r in report.results], list(indices))
        for index, leaf, entry in report.results:
            self.assertEqual(entry, log.entries[index])
            self.assertEqual(leaf, log.leaves[index])

    def test_fresh_logs_of_various_sizes(self):
        # Each log holds only the objects of its one tree size, so the checker
        # must ask for exactly the right full and partial names. 256 has no
        # level-0 partial (only full tiles at a complete level) and 65536 none
        # at levels 0 and 1.
        for size in [1, 255, 256, 257, 512, 65536]:
            with self.subTest(size=size), tempfile.TemporaryDirectory() as tmp:
                log = Log(tmp, self.entries[:size], [size])
                log.publish(size)
                report = log.check(all_indices=size <= 512, indices=[0, size - 1])
                want = range(size) if size <= 512 else [0, size - 1]
                self.assert_results(log, report, size, want)
                self.assertEqual(report.missing, [])

    def test_empty_log(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Log(tmp, [], [])
            log.publish(0)
            report = log.check(all_indices=True)
            self.assertEqual(report.results, [])
            self.assertEqual(report.fetched, ["checkpoint"])
            with self.assertRaisesRegex(tc.CheckError, "index 0: outside"):
                log.check(indices=[0])

    def test_70000_paths_fetched(self):
        log = self.grown
        log.publish(70000)
        report = log.check()
        self.assertEqual(sorted(report.fetched), sorted([
            "checkpoint", "tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]))
        report = log.check(indices=[5, 69999])
        self.assertEqual(sorted(report.fetched), sorted([
            "checkpoint", "tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1",
            "tile/0/000", "tile/1/000", "tile/entries/000", "tile/entries/273.p/112"]))
        self.assert_results(log, report, 70000, [5, 69999])

    def test_70000_all(self):
        log = self.grown
        log.publish(70000)
        start = time.monotonic()
        report = log.check(all_indices=True)
        elapsed = time.monotonic() - start
        self.assert_results(log, report, 70000, range(70000))
        self.assertEqual(len(report.fetched), 1 + 274 + 2 + 1 + 274)
        self.assertLess(elapsed, 10)

    def test_older_checkpoints_of_grown_log(self):
        # Partial tiles for older sizes are still served next to full tiles.
        log = self.grown
        for size in [1, 255, 256, 257, 600]:
            with self.subTest(size=size):
                log.publish(size)
                report = log.check(all_indices=True)
                self.assert_results(log, report, size, range(size))
                self.assertEqual(report.missing, [])
        log.publish(257)
        self.assertIn("tile/0/001.p/1", log.check(indices=[256]).fetched)

    def test_partial_deleted_falls_back_to_full(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = Log(tmp, self.entries[:600], [257, 600])
            os.remove(log.path("tile/0/001.p/1"))
            os.remove(log.path("tile/entries/001.p/1"))
            log.publish(257)
            report = log.check(all_indices=True)
            self.assert_results(log, report, 257, range(257))
            self.assertEqual(report.missing, ["tile/0/001.p/1", "tile/entries/001.p/1"])
            self.assertIn("tile/0/001", report.fetched)
            self.assertIn("tile/entries/001", report.fetched)
            # Neither the partial nor the full tile: a clear failure.
            os.remove(log.path("tile/1/000.p/1"))
            with self.assertRaisesRegex(tc.CheckError, r"tile/1/000\.p/1 and tile/1/000: missing"):
                log.check()

    def test_tampering_is_rejected(self):
        log = self.grown
        log.publish(70000)
        cases = [
            # (file, change, indices, expected message)
            ("tile/0/005", flip(32 * 10 + 3), [5 * 256 + 10], r"index 1290: inclusion proof from tile/0/005"),
            ("tile/0/005", flip(32 * 10 + 3), [5 * 256 + 200], r"index 1480: inclusion proof"),
            # Position 0 of tile/1/000 is the one hash index 5's proof computes
            # rather than reads, so only the tile-vs-parent check sees it.
            ("tile/1/000", flip(0), [5], r"tile/0/000: hashes to .* but tile/1/000 records .* at position 0"),
            ("tile/1/000", flip(32 * 3), [5], r"tile/0/003: hashes to|index 5: inclusion proof"),
            ("tile/1/000", flip(32 * 255 + 31), [5], r"index 5: inclusion proof from tile/0/000, tile/1/000"),
            ("tile/0/273.p/112", flip(0), [], r"checkpoint: root hash .* computed from tile/0/273\.p/112"),
            ("tile/2/000.p/1", flip(7), [], r"checkpoint: root hash"),
            ("tile/0/005", lambda b: b[:-1], [1280], r"tile/0/005: 8191 bytes, expected 8192"),
            ("tile/entries/005", lambda b: b.replace(b"entry 1290 ", b"entry 1291 "), [1290],
             r"index 1290: entry in tile/entries/005 hashes to"),
            ("tile/entries/005", lambda b: b[: len(bundle(self.entries[1280:1290]))], [1280],
             r"tile/entries/005: holds 10 entries, expected 256"),
            ("tile/entries/005", lambda b: b[:-1], [1280], r"tile/entries/005: entry 255 truncated"),
            ("tile/entries/273.p/112", lambda b: b + bundle([b"extra"]), [69999],
             r"tile/entries/273\.p/112: holds 113 entries, expected 112"),
        ]
        for rel, change, indices, message in cases:
            with self.subTest(file=rel, message=message), tampered(log.path(rel), change):
                with self.assertRaisesRegex(tc.CheckError, message):
                    log.check(indices=indices)
        # And untouched again afterwards.
        log.check(indices=[1290, 5, 69999])

    def test_checkpoint_problems_are_rejected(self):
        log = self.grown
        other = Signer(ORIGIN, 0x01)  # same name, different key
        good = log.publish(600)
        body, _, sigs = good.partition(b"\n\n")
        log_line, witness_line = sigs.splitlines(keepends=True)
        cases = [
            ("bad log signature", body + b"\n\n" + flip_sig(log_line) + witness_line,
             r"checkpoint: signature by example\.test/custos-log\+.* does not verify"),
            ("bad cosignature", body + b"\n\n" + log_line + flip_sig(witness_line),
             r"signature by witness\.example\.test/w1\+.* does not verify"),
            ("cosignature timestamp changed", body + b"\n\n" + log_line + bump_timestamp(witness_line),
             r"signature by witness\.example\.test/w1\+.* does not verify"),
            ("missing cosignature", body + b"\n\n" + log_line, r"checkpoint: no cosignature by witness"),
            ("missing log signature", body + b"\n\n" + witness_line, r"checkpoint: no signature by the log key"),
            ("signed by another key", checkpoint(600, log.root(600), [other, log.witness]),
             r"no signature by the log key"),
            ("wrong root", checkpoint(600, log.root(599), [log.log_signer, log.witness]),
             r"checkpoint: root hash [0-9a-f]{64} != [0-9a-f]{64} computed from tile/0/002\.p/88, tile/1/000\.p/2"),
            ("size beyond the tiles", checkpoint(70001, log.root(600), [log.log_signer, log.witness]),
             r"tile/0/273\.p/113 and tile/0/273: missing"),
            ("body edited", body.replace(b"\n600\n", b"\n601\n") + b"\n\n" + sigs, r"does not verify"),
            ("leading zero size", checkpoint("0600", log.root(600), [log.log_signer, log.witness]),
             r"checkpoint: bad tree size line '0600'"),
            ("short root", checkpoint(600, log.root(600)[:31], [log.log_signer, log.witness]),
             r"checkpoint: bad root hash line"),
            ("no signatures", body + b"\n\n", r"no signature lines"),
        ]
        for what, data, message in cases:
            with self.subTest(what):
                write_file(log.dir, "checkpoint", data)
                with self.assertRaisesRegex(tc.CheckError, message):
                    log.check(indices=[599])
        # Signature lines of unknown keys are ignored, wherever they appear.
        stranger = Signer("stranger.example/x", 0x04)
        write_file(log.dir, "checkpoint", body + b"\n\n" + stranger.line(body + b"\n") + log_line
                   + other.line(body + b"\n") + witness_line)
        log.check(indices=[599])
        # A missing cosigner key is only required when asked for.
        write_file(log.dir, "checkpoint", body + b"\n\n" + log_line)
        self.assertEqual(log.check(cosigners=[]).checkpoint.cosignatures, [])
        # Extension lines are part of what is signed, and are allowed.
        data = checkpoint(600, log.root(600), [log.log_signer, log.witness]).replace(b"\n\n", b"\nextension\n\n")
        write_file(log.dir, "checkpoint", data)  # signatures no longer cover the body
        with self.assertRaisesRegex(tc.CheckError, "does not verify"):
            log.check()
        ext_body = f"{ORIGIN}\n600\n{base64.b64encode(log.root(600)).decode()}\next\n".encode()
        write_file(log.dir, "checkpoint", ext_body + b"\n" + log.log_signer.line(ext_body) + log.witness.line(ext_body))
        self.assertEqual(log.check().checkpoint.extensions, ["ext"])


def flip_sig(line):
    """Flip a bit in the last byte of a signature line's Ed25519 signature."""
    prefix, b64 = line.rstrip(b"\n").rsplit(b" ", 1)
    sig = bytearray(base64.b64decode(b64))
    sig[-1] ^= 0x01
    return prefix + b" " + base64.b64encode(bytes(sig)) + b"\n"


def bump_timestamp(line):
    prefix, b64 = line.rstrip(b"\n").rsplit(b" ", 1)
    sig = bytearray(base64.b64decode(b64))
    sig[11] ^= 0x01  # last byte of the big-endian timestamp
    return prefix + b" " + base64.b64encode(bytes(sig)) + b"\n"


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the log directory, gzipping entry bundles as a log SHOULD."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        if "/tile/entries/" not in self.path or not os.path.isfile(path):
            return super().do_GET()
        with open(path, "rb") as f:
            body = gzip.compress(f.read())
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class TestCommandLine(unittest.TestCase):
    def test_cli_over_http(self):
        entries = [b"hello", b"", "caf\u00e9 \u2014 \u00fcml".encode(), b"\xff\xfe binary"] + sample_entries(300)[4:]
        with tempfile.TemporaryDirectory() as tmp:
            log = Log(tmp, entries, [300])
            log.publish(300)
            handler = lambda *a, **kw: GzipHandler(*a, directory=log.dir, **kw)  # noqa: E731
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                base = f"http://127.0.0.1:{server.server_address[1]}/"
                args = [sys.executable, CHECKER, "--log", base, "--log-key", log.log_signer.vkey,
                        "--cosigner-key", log.witness.vkey]
                run = subprocess.run(args + ["--index", "0", "--index", "3", "--index", "2",
                                             "--index", "299", "--index", "1"],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual(run.stderr, "")
                lines = [json.loads(line) for line in run.stdout.splitlines()]
                self.assertEqual(lines[0], {
                    "origin": ORIGIN, "tree_size": 300,
                    "root_hash": base64.b64encode(log.root(300)).decode(),
                    "cosignatures": [{"name": WITNESS, "timestamp": 1700000000}]})
                self.assertEqual([l["index"] for l in lines[1:]], [0, 3, 2, 299, 1])
                self.assertEqual(lines[1], {"index": 0, "leaf_hash": log.leaves[0].hex(), "entry": "hello"})
                self.assertEqual(lines[2]["entry_b64"], base64.b64encode(b"\xff\xfe binary").decode())
                self.assertEqual(lines[3]["entry"], "caf\u00e9 \u2014 \u00fcml")
                self.assertEqual(lines[5]["entry"], "")

                run = subprocess.run(args + ["--all"], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 0, run.stderr)
                self.assertEqual(len(run.stdout.splitlines()), 301)

                # A failure: non-zero, nothing on stdout, one line on stderr.
                with tampered(log.path("tile/entries/000"), lambda b: b.replace(b"hello", b"jello")):
                    run = subprocess.run(args + ["--index", "0"], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 1)
                self.assertEqual(run.stdout, "")
                self.assertEqual(len(run.stderr.splitlines()), 1)
                self.assertRegex(run.stderr, r"^tlog_tiles_check: FAILED: index 0: entry in tile/entries/000 hashes to")

                # A missing cosigner key given on the command line.
                other = Signer("other.example/w", 0x04)
                run = subprocess.run(args + ["--cosigner-key", other.vkey], capture_output=True, text=True, timeout=60)
                self.assertEqual(run.returncode, 1)
                self.assertIn("no cosignature by other.example/w+", run.stderr)
            finally:
                server.shutdown()
                server.server_close()
                thread.join()


if __name__ == "__main__":
    unittest.main()
