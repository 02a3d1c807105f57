#!/usr/bin/python3
r"""An independent client for C2SP tlog-tiles transparency logs.

Written only from the C2SP specifications (tlog-tiles, tlog-checkpoint,
signed-note, tlog-cosignature) and RFC 6962 / RFC 9162 Merkle tree hashing, so
that it can cross-check Custos' own log implementation. Run with Debian's
/usr/bin/python3; it needs only the standard library and python3-cryptography.

    /usr/bin/python3 tests/support/tlog_tiles_check.py --log BASE --log-key VKEY \
        [--cosigner-key VKEY ...] [--index I ...] [--all]

BASE is an http(s):// URL prefix or a local directory holding the log's
objects (`checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`).

VKEY is a signed-note verifier key `<name>+<hex key id>+<base64(type || key)>`:
--log-key must be an Ed25519 note key (type 0x01), --cosigner-key an Ed25519
tlog-cosignature/v1 key (type 0x04). The log signature and every given
cosignature are required; signature lines from other keys are ignored.

It verifies the checkpoint, recomputes the root hash of its tree from the
right-edge hash tiles, and for each --index (or every index with --all)
checks the entry bundle against the level-0 tile and an RFC 9162 inclusion
proof built from the tiles. Every full hash tile it reads is also checked
against the hash recorded for it one level up.

Output (stdout), one JSON object per line: first the checkpoint
    {"origin": ..., "tree_size": S, "root_hash": base64,
     "cosignatures": [{"name": ..., "timestamp": T}, ...]}
then one line per index, in the order asked (--all: ascending)
    {"index": I, "leaf_hash": hex, "entry": text}     (entry is valid UTF-8)
    {"index": I, "leaf_hash": hex, "entry_b64": b64}  (otherwise)
Nothing is printed on stdout unless every check passed. Exit status: 0 when
every check passed, 1 with a one-line `tlog_tiles_check: FAILED: ...` on stderr
naming the object and index otherwise, 2 for command-line usage errors.
"""

import argparse
import base64
import binascii
import gzip
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
TILE_HEIGHT = 8  # a tile is a subtree of height 8 ...
TILE_WIDTH = 1 << TILE_HEIGHT  # ... hence 256 hashes (or entries) wide
SIG_TYPE_ED25519 = 0x01  # signed-note Ed25519 note signature
SIG_TYPE_COSIGNATURE_V1 = 0x04  # tlog-cosignature timestamped Ed25519
MAX_CHECKPOINT_BYTES = 1 << 20
MAX_SIGNATURE_LINES = 256  # signed-note: verifiers must accept at least 16
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 0xFFFF)  # 256 entries of at most 65535 bytes
EMPTY_TREE_ROOT = hashlib.sha256(b"").digest()  # RFC 6962: MTH({}) = SHA-256()


class CheckError(Exception):
    """A verification failure; the message names the object and index."""


class Missing(Exception):
    """The object does not exist (HTTP 404/410, or no such file)."""


# --- RFC 6962 / RFC 9162 hashing --------------------------------------------


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n):
    """RFC 6962's k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_root(hashes):
    """Root of a perfect subtree whose leaves (at some level) are `hashes`."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2: recompute the root from a leaf and its path."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- object paths ------------------------------------------------------------


def encode_index(n):
    """tlog-tiles <N>: 3-digit groups, all but the last prefixed with 'x'."""
    if n < 0:
        raise ValueError("negative tile index")
    path = f"{n % 1000:03d}"
    n //= 1000
    while n > 0:
        path = f"x{n % 1000:03d}/{path}"
        n //= 1000
    return path


def tile_path(level, n, width=None):
    suffix = "" if width is None else f".p/{width}"
    return f"tile/{level}/{encode_index(n)}{suffix}"


def bundle_path(n, width=None):
    suffix = "" if width is None else f".p/{width}"
    return f"tile/entries/{encode_index(n)}{suffix}"


# --- where the objects come from --------------------------------------------


class HttpSource:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def describe(self, path):
        return f"{self.base}/{path}"

    def fetch(self, path, limit):
        # tlog-tiles: clients SHOULD accept gzip and identity.
        req = urllib.request.Request(
            f"{self.base}/{path}",
            headers={"Accept-Encoding": "gzip, identity", "User-Agent": "tlog_tiles_check"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                data = resp.read(limit + 1)
                encoding = (resp.headers.get("Content-Encoding") or "identity").lower()
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise Missing(path) from None
            raise CheckError(f"{path}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError) as e:
            raise CheckError(f"{path}: cannot fetch: {e}") from None
        if encoding == "gzip":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise CheckError(f"{path}: bad gzip body: {e}") from None
        elif encoding != "identity":
            raise CheckError(f"{path}: unsupported Content-Encoding {encoding}")
        if len(data) > limit:
            raise CheckError(f"{path}: larger than {limit} bytes")
        return data


class DirSource:
    def __init__(self, base):
        if base.startswith("file://"):
            base = base[len("file://"):]
        self.base = base

    def describe(self, path):
        return os.path.join(self.base, *path.split("/"))

    def fetch(self, path, limit):
        try:
            with open(self.describe(path), "rb") as f:
                data = f.read(limit + 1)
        except (FileNotFoundError, NotADirectoryError):
            raise Missing(path) from None
        except OSError as e:
            raise CheckError(f"{path}: cannot read: {e}") from None
        if len(data) > limit:
            raise CheckError(f"{path}: larger than {limit} bytes")
        return data


def open_source(base):
    if base.startswith(("http://", "https://")):
        return HttpSource(base)
    return DirSource(base)


# --- signed notes, checkpoints, cosignatures ---------------------------------


class VerifierKey:
    def __init__(self, text, name, key_id, sig_type, public_key):
        self.text, self.name, self.key_id = text, name, key_id
        self.sig_type, self.public_key = sig_type, public_key


def parse_vkey(text, sig_type, what):
    """Parse `<name>+<hex key id>+<base64(type || public key)>`."""
    # Names cannot contain '+', but base64 can: split on the first two only.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CheckError(f"{what}: verifier key must be name+keyid+key: {text!r}")
    name, hex_id, b64 = parts
    if not name or any(c.isspace() for c in name):
        raise CheckError(f"{what}: bad key name {name!r}")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hex_id):
        raise CheckError(f"{what}: key id must be 8 hex digits: {hex_id!r}")
    try:
        raw = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise CheckError(f"{what}: key is not valid base64") from None
    if len(raw) != 1 + 32 or raw[0] != sig_type:
        raise CheckError(
            f"{what}: expected signature type 0x{sig_type:02x} and a 32-byte Ed25519 key"
        )
    # signed-note / tlog-cosignature: key ID = SHA-256(name || \n || type || key)[:4];
    # a mismatch means the vkey was mangled, and signatures would be silently ignored.
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id != bytes.fromhex(hex_id):
        raise CheckError(f"{what}: key id {hex_id} does not match the key (expected {key_id.hex()})")
    return VerifierKey(text, name, key_id, sig_type, Ed25519PublicKey.from_public_bytes(raw[1:]))


class Checkpoint:
    def __init__(self, origin, size, root, extensions, cosignatures):
        self.origin, self.size, self.root = origin, size, root
        self.extensions, self.cosignatures = extensions, cosignatures


def verify_checkpoint(data, log_key, cosigner_keys, where="checkpoint"):
    """Open the signed note and parse its body as a tlog checkpoint."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError(f"{where}: not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in text):
        raise CheckError(f"{where}: contains control characters")
    # The body is separated from the signatures by the *last* blank line.
    sep = text.rfind("\n\n")
    if sep < 0 or not text.endswith("\n"):
        raise CheckError(f"{where}: not a signed note (no blank line / final newline)")
    body, sig_block = text[: sep + 1], text[sep + 2 :]
    if not sig_block:
        raise CheckError(f"{where}: no signature lines")
    sig_lines = sig_block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURE_LINES:
        raise CheckError(f"{where}: too many signature lines ({len(sig_lines)})")

    known = {}
    for key in [log_key] + cosigner_keys:
        if (key.name, key.key_id) in known:
            raise CheckError(f"{where}: key {key.text} given twice")
        known[(key.name, key.key_id)] = key

    body_bytes = body.encode("utf-8")
    verified = set()
    cosignatures = []
    for line in sig_lines:
        m = re.fullmatch(r"\u2014 ([^ ]+) ([A-Za-z0-9+/=]+)", line)
        if not m:
            raise CheckError(f"{where}: malformed signature line {line!r}")
        name = m.group(1)
        try:
            sig = base64.b64decode(m.group(2), validate=True)
        except binascii.Error:
            raise CheckError(f"{where}: signature by {name} is not valid base64") from None
        if len(sig) < 5:
            raise CheckError(f"{where}: signature by {name} too short")
        key = known.get((name, sig[:4]))
        if key is None:
            continue  # signed-note: unknown keys MUST be ignored (rotation, witnesses)
        if key.sig_type == SIG_TYPE_ED25519:
            signed, raw_sig = body_bytes, sig[4:]
        else:
            # tlog-cosignature/v1: keyid || u64 timestamp || Ed25519 signature over
            # "cosignature/v1\ntime <timestamp>\n" || checkpoint body.
            if len(sig) != 4 + 8 + 64:
                raise CheckError(f"{where}: cosignature by {name} has wrong length {len(sig)}")
            timestamp = int.from_bytes(sig[4:12], "big")
            if timestamp > 2**63 - 1:
                raise CheckError(f"{where}: cosignature by {name} has timestamp >= 2^63")
            signed = f"cosignature/v1\ntime {timestamp}\n".encode() + body_bytes
            raw_sig = sig[12:]
        try:
            if len(raw_sig) != 64:
                raise InvalidSignature()
            key.public_key.verify(raw_sig, signed)
        except InvalidSignature:
            # signed-note: a failing signature from a known key rejects the note.
            raise CheckError(f"{where}: signature by {key.text} does not verify") from None
        if key.sig_type == SIG_TYPE_COSIGNATURE_V1 and key not in verified:
            cosignatures.append({"name": name, "timestamp": timestamp})
        verified.add(key)

    if log_key not in verified:
        raise CheckError(f"{where}: no signature by the log key {log_key.text}")
    for key in cosigner_keys:
        if key not in verified:
            raise CheckError(f"{where}: no cosignature by {key.text}")

    # Only now that the note is trusted is its text interpreted (signed-note).
    lines = body[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckError(f"{where}: body must be at least 3 non-empty lines")
    origin, size_text, root_text = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise CheckError(f"{where}: bad tree size line {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        root = b""
    if len(root) != HASH_SIZE:
        raise CheckError(f"{where}: bad root hash line {root_text!r}")
    return Checkpoint(origin, int(size_text), root, lines[3:], cosignatures)


# --- the tiled Merkle tree -----------------------------------------------------


def parse_bundle(data, path):
    """An entry bundle is a sequence of big-endian uint16 length-prefixed entries."""
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise CheckError(f"{path}: truncated length prefix at byte {pos}")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise CheckError(f"{path}: entry {len(entries)} truncated at byte {pos}")
        entries.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return entries


class TiledTree:
    """The Merkle tree of size `size` as seen through its tiles.

    Subtree hashes at heights that are multiples of 8 are read from tiles (a
    hash at tile level L covers 256**L entries); heights in between are hashed
    up from the level below, as the spec says tiles are meant to be used.
    """

    def __init__(self, source, size):
        self.source, self.size = source, size
        self.tiles = {}  # (level, n) -> (path actually read, [hashes])
        self.bundles = {}  # n -> (path actually read, [entries])
        self.nodes = {}  # (height, start) -> hash of the perfect subtree
        self.ranges = {}  # (lo, hi) -> MTH(D[lo:hi]) for non-perfect ranges
        self.fetched = []  # paths read, in order
        self.missing = []  # paths tried that did not exist

    def _width(self, level, n):
        """Entries in the tile at (level, n) for this tree, and whether it is full.

        Level -1 stands for entry bundles, which are laid out like level 0."""
        shift = TILE_HEIGHT * max(level, 0)
        full_tiles = self.size >> (shift + TILE_HEIGHT)
        if n < full_tiles:
            return TILE_WIDTH, True
        partial = (self.size >> shift) % TILE_WIDTH
        if n == full_tiles and partial:
            return partial, False
        raise CheckError(f"internal: tile {level}/{n} is outside a tree of size {self.size}")

    def _read(self, paths, limit, check_len):
        """Read the first of `paths` that exists (partial first, then full)."""
        for path in paths:
            try:
                data = self.source.fetch(path, limit)
            except Missing:
                self.missing.append(path)
                continue
            self.fetched.append(path)
            check_len(path, data)
            return path, data
        raise CheckError(f"{' and '.join(paths)}: missing ({self.source.describe(paths[0])})")

    def tile(self, level, n):
        if (level, n) not in self.tiles:
            width, full = self._width(level, n)
            paths = [tile_path(level, n)]
            if not full:
                # Logs may delete a partial tile once the full one exists: fall back.
                paths.insert(0, tile_path(level, n, width))

            def check_len(path, data):
                want = HASH_SIZE * (TILE_WIDTH if path == paths[-1] else width)
                if len(data) != want:
                    raise CheckError(f"{path}: {len(data)} bytes, expected {want}")

            path, data = self._read(paths, HASH_SIZE * TILE_WIDTH, check_len)
            hashes = [data[i : i + HASH_SIZE] for i in range(0, width * HASH_SIZE, HASH_SIZE)]
            self.tiles[(level, n)] = (path, hashes)
        return self.tiles[(level, n)]

    def bundle(self, n):
        if n not in self.bundles:
            width, full = self._width(-1, n)
            paths = [bundle_path(n)]
            if not full:
                paths.insert(0, bundle_path(n, width))
            path, data = self._read(paths, MAX_BUNDLE_BYTES, lambda p, d: None)
            entries = parse_bundle(data, path)
            want = TILE_WIDTH if path == paths[-1] else width  # paths[-1] is the full one
            if len(entries) != want:
                raise CheckError(f"{path}: holds {len(entries)} entries, expected {want}")
            self.bundles[n] = (path, entries[:width])
        return self.bundles[n]

    def node(self, height, start):
        """Hash of the perfect subtree of 2**height entries starting at `start`."""
        key = (height, start)
        h = self.nodes.get(key)
        if h is None:
            if height % TILE_HEIGHT == 0:
                level, idx = height // TILE_HEIGHT, start >> height
                h = self.tile(level, idx >> TILE_HEIGHT)[1][idx % TILE_WIDTH]
            else:
                half = 1 << (height - 1)
                h = node_hash(self.node(height - 1, start), self.node(height - 1, start + half))
            self.nodes[key] = h
        return h

    def mth(self, lo, hi):
        """RFC 6962 MTH(D[lo:hi]); lo is aligned as in RFC 6962's recursion."""
        n = hi - lo
        if n == 0:
            return EMPTY_TREE_ROOT
        if n & (n - 1) == 0:
            return self.node(n.bit_length() - 1, lo)
        h = self.ranges.get((lo, hi))
        if h is None:
            k = largest_power_of_two_below(n)
            h = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
            self.ranges[(lo, hi)] = h
        return h

    def inclusion_proof(self, index):
        """RFC 9162 PATH(index, D[0:size]), leaf side first."""
        proof, lo, hi = [], 0, self.size
        while hi - lo > 1:
            k = largest_power_of_two_below(hi - lo)
            if index < lo + k:
                proof.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.mth(lo, lo + k))
                lo += k
        proof.reverse()
        return proof

    def tiles_for_index(self, index):
        """Paths (as read) of the hash tiles on the way from `index` to the root."""
        paths, level = [], 0
        while self.size >> (TILE_HEIGHT * level):
            key = (level, index >> (TILE_HEIGHT * (level + 1)))
            if key in self.tiles:
                paths.append(self.tiles[key][0])
            level += 1
        return paths

    def right_edge_tiles(self):
        return [p for (l, n), (p, _) in sorted(self.tiles.items()) if not self._width(l, n)[1]]

    def check_full_tiles(self):
        """Every full tile read must hash to its entry in the tile one level up.

        The root and inclusion checks only read a tile's hashes; this catches a
        tile whose hashes are wrong where no proof happened to look."""
        checked = set()
        while True:
            todo = [k for k in self.tiles if k not in checked and self._width(*k)[1]]
            if not todo:
                return
            for level, n in sorted(todo):
                checked.add((level, n))
                path, hashes = self.tiles[(level, n)]
                parent_height = TILE_HEIGHT * (level + 1)
                recorded = self.node(parent_height, n << parent_height)
                if perfect_root(hashes) != recorded:
                    parent = self.tiles[(level + 1, n >> TILE_HEIGHT)][0]
                    raise CheckError(
                        f"{path}: hashes to {perfect_root(hashes).hex()} but {parent} "
                        f"records {recorded.hex()} at position {n % TILE_WIDTH}"
                    )


# --- the whole check -----------------------------------------------------------


class Report:
    def __init__(self, checkpoint, results, fetched, missing):
        self.checkpoint, self.results = checkpoint, results
        self.fetched, self.missing = fetched, missing

    def lines(self):
        cp = self.checkpoint
        out = [
            json.dumps(
                {
                    "origin": cp.origin,
                    "tree_size": cp.size,
                    "root_hash": base64.b64encode(cp.root).decode(),
                    "cosignatures": cp.cosignatures,
                }
            )
        ]
        for index, leaf, entry in self.results:
            line = {"index": index, "leaf_hash": leaf.hex()}
            try:
                line["entry"] = entry.decode("utf-8")
            except UnicodeDecodeError:
                line["entry_b64"] = base64.b64encode(entry).decode()
            out.append(json.dumps(line))
        return out


def check_log(source, log_vkey, cosigner_vkeys=(), indices=(), all_indices=False):
    """Run every check; return a Report or raise CheckError."""
    log_key = parse_vkey(log_vkey, SIG_TYPE_ED25519, "--log-key")
    cosigner_keys = [parse_vkey(k, SIG_TYPE_COSIGNATURE_V1, "--cosigner-key") for k in cosigner_vkeys]
    try:
        data = source.fetch("checkpoint", MAX_CHECKPOINT_BYTES)
    except Missing:
        raise CheckError(f"checkpoint: missing ({source.describe('checkpoint')})") from None
    cp = verify_checkpoint(data, log_key, cosigner_keys)

    tree = TiledTree(source, cp.size)
    tree.fetched.append("checkpoint")
    # The root from the right-edge (partial) tiles must be the signed one.
    root = tree.mth(0, cp.size)
    if root != cp.root:
        tiles = ", ".join(tree.right_edge_tiles()) or "no tiles"
        raise CheckError(
            f"checkpoint: root hash {cp.root.hex()} != {root.hex()} computed from {tiles}"
        )

    wanted = range(cp.size) if all_indices else list(dict.fromkeys(indices))
    results = []
    for index in wanted:
        try:
            results.append(check_index(tree, cp, index))
        except CheckError as e:
            # Name the index even when the failure is in a tile or bundle read for it.
            if str(e).startswith(f"index {index}:"):
                raise
            raise CheckError(f"index {index}: {e}") from None
    tree.check_full_tiles()
    return Report(cp, results, tree.fetched, tree.missing)


def check_index(tree, cp, index):
    """Check one entry against its tile hash and the tile hash against the root."""
    if not 0 <= index < cp.size:
        raise CheckError(f"index {index}: outside the tree of size {cp.size}")
    leaf = tree.node(0, index)
    # Prove the tile's leaf hash is in the signed tree before trusting it.
    proof = tree.inclusion_proof(index)
    if not verify_inclusion(index, cp.size, leaf, proof, cp.root):
        raise CheckError(
            f"index {index}: inclusion proof from {', '.join(tree.tiles_for_index(index))} "
            f"does not lead to the checkpoint root"
        )
    path, entries = tree.bundle(index >> TILE_HEIGHT)
    entry = entries[index % TILE_WIDTH]
    if leaf_hash(entry) != leaf:
        raise CheckError(
            f"index {index}: entry in {path} hashes to {leaf_hash(entry).hex()}, "
            f"but {tree.tiles_for_index(index)[0]} has {leaf.hex()}"
        )
    return index, leaf, entry


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Verify a C2SP tlog-tiles transparency log (checkpoint, tiles, entries)."
    )
    ap.add_argument("--log", required=True, metavar="BASE", help="URL prefix or directory")
    ap.add_argument("--log-key", required=True, metavar="VKEY", help="log's Ed25519 note vkey")
    ap.add_argument(
        "--cosigner-key", action="append", default=[], metavar="VKEY",
        help="required Ed25519 cosigner vkey (type 0x04); repeatable",
    )
    ap.add_argument(
        "--index", action="append", default=[], type=int, metavar="I",
        help="entry index to verify and print; repeatable",
    )
    ap.add_argument("--all", action="store_true", help="verify and print every entry")
    args = ap.parse_args(argv)
    try:
        report = check_log(
            open_source(args.log), args.log_key, args.cosigner_key, args.index, args.all
        )
    except CheckError as e:
        msg = " ".join(str(e).split())  # keep it to one line
        print(f"tlog_tiles_check: FAILED: {msg}", file=sys.stderr)
        return 1
    sys.stdout.write("".join(line + "\n" for line in report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
