#!/usr/bin/env python3
"""Generate a realistic static site, deterministically from a seed.

    bench/gen-site.py OUT [--seed 1] [--files 5000] [--mib 150] [--revision 1] [--changed-pct 1]

The same arguments always give the same bytes. The site looks like a bundler's output: HTML
pages, hash-named JS chunks with source maps, CSS, fonts, SVG icons and images, from 200 B to a
few MiB (most files small, a few large, as on real sites). Text files compress like real code
(about 3:1), images and fonts do not compress.

--revision R (R > 1) is the next build of the same site: about --changed-pct percent of its files
have new content (hash-named files get a new name, as a bundler would give them), always
including index.html and media/poster.jpg; the rest is byte-identical to revision 1.

Four probe files never change and have fixed sizes, for the serving benchmark:
bench/icon-1k.png (1,024 B), bench/photo-100k.jpg (102,400 B), bench/app-100k.js (102,400 B of
JavaScript), bench/font-300k.woff2 (307,200 B: past what servers keep in memory, sent from disk). A JSON summary goes to stdout.
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys

MIN_SIZE = 200
MAX_SIZE = 4 * 1024 * 1024

# kind: (share of files, median bytes, spread (lognormal sigma))
KINDS = {
    "html": (0.05, 12_000, 0.9),
    "js": (0.24, 9_000, 1.5),
    "map": (0.14, 25_000, 1.5),
    "css": (0.06, 6_000, 1.2),
    "svg": (0.12, 1_500, 1.0),
    "font": (0.02, 40_000, 0.6),
    "image": (0.37, 14_000, 1.6),
}
TEXT_KINDS = {"html", "js", "map", "css", "svg"}
WORDS = (
    "const let var function return import export default from async await class extends new this "
    "if else for while switch case break continue try catch finally throw typeof instanceof null "
    "undefined true false Promise Array Object String Number Map Set JSON Math document window "
    "querySelector addEventListener createElement appendChild setAttribute classList dataset fetch "
    "then response render props state useEffect useState component children key value index length "
    "push map filter reduce forEach slice splice concat join split replace trim toString parseInt "
    "margin padding display flex grid color background border radius font weight height width "
    "div span section article header footer nav main button input label form table"
).split()


def token(data: bytes) -> str:
    """An 8-character content hash with at least one digit and one letter, like a bundler's."""
    h = hashlib.sha256(data).hexdigest()
    return f"{h[:6]}{int(h[6], 16) % 10}{'abcdef'[int(h[7], 16) % 6]}"


class Corpus:
    """A few MiB of code-like text; files are made of random slices of it plus unique tokens."""

    def __init__(self, seed: int):
        rng = random.Random(seed * 7919 + 17)
        parts = []
        size = 0
        while size < 4 * 1024 * 1024:
            line = " ".join(rng.choices(WORDS, k=rng.randint(3, 14)))
            line = f"{'  ' * rng.randint(0, 4)}{line}({rng.randint(0, 9999)});\n"
            parts.append(line)
            size += len(line)
        self.text = "".join(parts).encode()

    def make(self, rng: random.Random, size: int, prefix: bytes = b"") -> bytes:
        out = bytearray(prefix)
        while len(out) < size:
            start = rng.randrange(0, len(self.text) - 4096)
            out += self.text[start:start + rng.randint(512, 4096)]
            out += b"_%08x " % rng.getrandbits(32)
        return bytes(out[:size])


MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff\xe0", ".webp": b"RIFF\x00\x00\x00\x00WEBP",
         ".woff2": b"wOF2"}


def binary(rng: random.Random, size: int, ext: str) -> bytes:
    magic = MAGIC.get(ext, b"")
    return (magic + rng.randbytes(size))[:size]


def plan(seed: int, files: int, total_bytes: int):
    """The site's file list: (kind, name stem, folder, extension, size), scaled to the total."""
    rng = random.Random(seed)
    kinds = [k for k, (share, _, _) in KINDS.items() for _ in range(max(1, round(share * files)))]
    kinds = (kinds + ["image"] * files)[:files - 5]  # 2 fixed files and 3 probes are added below
    rng.shuffle(kinds)
    entries = []
    for i, kind in enumerate(kinds):
        _, median, sigma = KINDS[kind]
        size = median * math.exp(rng.gauss(0, sigma))
        section = f"s{i % 23:02d}"
        if kind == "html":
            entries.append([kind, "index", f"docs/{section}/page-{i}", ".html", size])
        elif kind in ("js", "map"):
            entries.append([kind, f"chunk-{i}", "assets/js", ".js" if kind == "js" else ".js.map", size])
        elif kind == "css":
            entries.append([kind, f"style-{i}", "assets/css", ".css", size])
        elif kind == "svg":
            entries.append([kind, f"icon-{i}", f"icons/{section}", ".svg", size])
        elif kind == "font":
            entries.append([kind, f"font-{i}", "assets/fonts", ".woff2", size])
        else:
            ext = (".png", ".jpg", ".webp")[i % 3]
            entries.append([kind, f"img-{i}", f"media/{section}", ext, size])
    fixed = 1024 + 2 * 102_400 + 1_500_000
    # Scale the sizes so the site adds up to the requested total (clamping moves it, so repeat).
    for _ in range(6):
        current = sum(e[4] for e in entries)
        factor = (total_bytes - fixed - 20_000) / current
        for e in entries:
            e[4] = min(MAX_SIZE, max(MIN_SIZE, e[4] * factor))
    for e in entries:
        e[4] = int(e[4])
    entries.append(["html", "index", "", ".html", 20_000])
    entries.append(["image", "poster", "media", ".jpg", 1_500_000])
    return entries


def generate(out: str, seed: int, files: int, mib: float, revision: int, changed_pct: float) -> dict:
    corpus = Corpus(seed)
    change = random.Random(seed * 104729 + revision)
    total = files_written = changed = 0
    for index, (kind, stem, folder, ext, size) in enumerate(plan(seed, files, int(mib * 1024 * 1024))):
        is_changed = revision > 1 and (
            (folder, stem) in (("", "index"), ("media", "poster")) or change.random() * 100 < changed_pct)
        content_seed = (seed, index, revision if is_changed else 1)
        rng = random.Random(hash_seed(content_seed))
        if kind in TEXT_KINDS:
            prefix = b"<!doctype html>\n" if kind == "html" else b"<svg xmlns=\"http://www.w3.org/2000/svg\">" if kind == "svg" else b""
            data = corpus.make(rng, size, prefix)
        else:
            data = binary(rng, size, ext)
        name = stem + ext
        if kind in ("js", "map", "css", "font"):
            # The source map carries its chunk's name, so both change together.
            basis = data if kind != "map" else repr(content_seed).encode()
            name = f"{stem}.{token(basis)}{ext}"
        write(out, folder, name, data)
        total += len(data)
        files_written += 1
        changed += is_changed
    probes = {
        "bench/icon-1k.png": binary(random.Random(seed + 1), 1024, ".png"),
        "bench/photo-100k.jpg": binary(random.Random(seed + 2), 102_400, ".jpg"),
        "bench/app-100k.js": corpus.make(random.Random(seed + 3), 102_400),
        "bench/font-300k.woff2": binary(random.Random(seed + 4), 307_200, ".woff2"),
    }
    for path, data in probes.items():
        write(out, *os.path.split(path), data)
        total += len(data)
        files_written += 1
    return {"root": out, "seed": seed, "revision": revision, "files": files_written, "bytes": total,
            "changed": changed, "probes": {"1k": "bench/icon-1k.png", "100k": "bench/photo-100k.jpg",
                                           "gzip": "bench/app-100k.js", "300k": "bench/font-300k.woff2"}}


def hash_seed(parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def write(out: str, folder: str, name: str, data: bytes) -> None:
    directory = os.path.join(out, folder)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--mib", type=float, default=150)
    parser.add_argument("--revision", type=int, default=1)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    args = parser.parse_args()
    if args.files < 10 or args.mib < 2:
        sys.exit("gen-site: --files must be at least 10 and --mib at least 2")
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"gen-site: {args.out} is not empty")
    print(json.dumps(generate(args.out, args.seed, args.files, args.mib, args.revision, args.changed_pct)))


if __name__ == "__main__":
    main()
