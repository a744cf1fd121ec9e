#!/usr/bin/env python3
"""Publishing with strata against the pipelines teams write by hand, side by side in one run.

    bench/publish.py --strata BIN --v1 SITE --v2 SITE --work DIR [--rounds 3] [--flips 10] [--out JSON]

SITE v2 is the next build of v1 (bench/gen-site.py --revision 2). Every case starts from the same
state for each tool, tools alternate which goes first from round to round, and each
command ends durable (strata fsyncs; the others end with `sync`). The page cache is warm for all.

Tools:
  by hand   cp -a into a new release folder, sha256sum of every file into a manifest, gzip -9 -k
            of the text files on both cores, ln -s + mv -T to flip a `current` link, sync
  rsync     rsync -a --link-dest=<previous release> (unchanged files become hard links), the
            same flip, sync; it writes no manifest and no gzip files, so it does less work
  strata    strata publish --activate (hash, pool, the default gzip and brotli variants, manifest,
            flip); also with --variants gzip alone and with gzip,br,zstd, each into a store of its own

Cases: the floor (sha256sum reading and hashing the input once), a full publish into an empty
store, the next version with 1% of files changed, a republish of identical content, and the
latency of one activate (with its check, and with --no-check) and one rollback. Prints median time,
ratio to "by hand" and peak RSS.
"""
import argparse
import os
import shutil
import subprocess

from benchlib import CommandFailed, log, measure, median, run, save, table

TEXT_FILES = r"\( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.map' -o -name '*.svg' \)"


class HandPipeline:
    """Release folders beside a `current` symlink, as a deploy script keeps them."""

    def __init__(self, root: str):
        self.root = root

    def publish(self, source: str, name: str) -> str:
        release = f"{self.root}/{name}"
        return (f"mkdir -p {self.root} && cp -a {source} {release}"
                f" && (cd {release} && find . -type f -print0 | xargs -0 sha256sum > ../{name}.sha256)"
                f" && find {release} -type f {TEXT_FILES} -size +255c -print0 | xargs -0 -r -P2 -n32 gzip -9 -k"
                f" && {self.flip(name)} && sync")

    def flip(self, name: str) -> str:
        """Remembers the release it replaces in `previous`, so a rollback can find it."""
        return (f"(cd {self.root} && {{ [ -L current ] && ln -sfn \"$(readlink current)\" previous.new"
                f" && mv -T previous.new previous || true; }} && ln -sfn {name} current.new && mv -T current.new current)")

    def rollback(self) -> str:
        return (f"cd {self.root} && back=$(readlink previous) && ln -sfn \"$(readlink current)\" previous.new"
                f" && ln -sfn \"$back\" current.new && mv -T current.new current && mv -T previous.new previous")


class RsyncPipeline(HandPipeline):
    def publish(self, source: str, name: str, previous: str | None = None) -> str:
        link = f"--link-dest={self.root}/{previous}" if previous else ""
        return f"mkdir -p {self.root} && rsync -a {link} {source}/ {self.root}/{name}/ && {self.flip(name)} && sync"


class Bench:
    def __init__(self, args):
        self.args = args
        self.strata = os.path.realpath(args.strata)
        self.work = args.work
        self.samples: dict[tuple[str, str], list[tuple[float, float]]] = {}

    def record(self, case: str, tool: str, command: str) -> None:
        run("sync")
        seconds, rss = measure(command)
        self.samples.setdefault((case, tool), []).append((seconds, rss))

    def reset(self, number: int) -> None:
        """Moves the last round's trees aside instead of deleting them: ext4 without a journal (as
        on the machine these numbers come from) will not reuse an inode for a minute after it was
        freed, five while its table is unwritten, and scans past every such inode on each file it
        creates; a publish right after deleting the last round's 30,000 files then measured that
        scan (strata 14.2 s against 7.1 s, by hand 4.65 s against 4.3 s)."""
        aside = f"{self.aside}/{number}"
        for name in ("hand", "rsync", "store", "store-gzip", "store-all"):
            path = f"{self.work}/{name}"
            if os.path.exists(path):
                os.makedirs(aside, exist_ok=True)
                os.rename(path, f"{aside}/{name}")

    @property
    def aside(self) -> str:
        return f"{self.work}/previous-rounds"

    def remove_all(self) -> None:
        """Deletes every tree once the timing is over, so the page cache and the disk go back to
        the parts that follow (the same state as before this part ran)."""
        self.reset(0)
        if os.path.exists(self.aside):
            subprocess.run(["chmod", "-R", "u+w", self.aside])
            shutil.rmtree(self.aside)

    def strata_cmd(self, *words: str, store: str = "store") -> str:
        return " ".join([self.strata, *words, "--root", f"{self.work}/{store}"])

    def round(self, number: int) -> None:
        a, b = self.args.v1, self.args.v2
        hand, rsync = HandPipeline(f"{self.work}/hand"), RsyncPipeline(f"{self.work}/rsync")
        self.reset(number)
        # Alternate which tool runs first, so none always gets the cooler or the warmer machine.
        order = (lambda cases: cases) if number % 2 else (lambda cases: list(reversed(cases)))
        for tool, command in order([("sha256sum", f"find {a} -type f -print0 | xargs -0 sha256sum > /dev/null"),
                                    ("sha256sum ×2", f"find {a} -type f -print0 | xargs -0 -P2 -n64 sha256sum > /dev/null")]):
            self.record("floor: hash the input", tool, command)
        steps = [
            ("full publish", [("by hand", hand.publish(a, "r1")), ("rsync", rsync.publish(a, "r1")),
                              ("strata", self.strata_cmd("publish", a, "--activate", "--label", "v1")),
                              ("strata --variants gzip", self.strata_cmd("publish", a, "--activate", "--variants", "gzip",
                                                                         store="store-gzip")),
                              ("strata --variants gzip,br,zstd", self.strata_cmd("publish", a, "--activate", "--variants",
                                                                                 "gzip,br,zstd", store="store-all"))]),
            ("next version, 1% changed", [("by hand", hand.publish(b, "r2")), ("rsync", rsync.publish(b, "r2", "r1")),
                                          ("strata", self.strata_cmd("publish", b, "--activate", "--label", "v2"))]),
            ("republish identical", [("by hand", hand.publish(b, "r3")), ("rsync", rsync.publish(b, "r3", "r2")),
                                     ("strata", self.strata_cmd("publish", b, "--activate"))]),
        ]
        for case, tools in steps:
            for tool, command in order(tools):
                self.record(case, tool, command)
        for _ in range(self.args.flips):
            for tool, command in order([("by hand", f"{hand.flip('r1')}"), ("strata", self.strata_cmd("activate", "v1"))]):
                self.record("activate", tool, command)
            for tool, command in order([("by hand", hand.rollback()), ("strata", self.strata_cmd("rollback"))]):
                self.record("rollback", tool, command)
            # The flip alone, for the activate target (with its check at most 1.5x this).
            run(self.strata_cmd("activate", "v2", "--no-check"))
            self.record("activate", "strata --no-check", self.strata_cmd("activate", "v1", "--no-check"))
            # Back to v2, untimed, so the next activate flips again.
            run(hand.flip("r2"))
            run(self.strata_cmd("activate", "v2"))

    def report(self) -> dict:
        rows, results = [], []
        cases = list(dict.fromkeys(case for case, _ in self.samples))
        for case in cases:
            tools = [tool for c, tool in self.samples if c == case]
            reference = "sha256sum" if case.startswith("floor") else "by hand"
            ref_time = median([s for s, _ in self.samples[(case, reference)]])
            for tool in tools:
                times = [s for s, _ in self.samples[(case, tool)]]
                peak = max(r for _, r in self.samples[(case, tool)])
                t = median(times)
                per_op = case in ("activate", "rollback")
                rows.append([case, tool, f"{t * 1000:.1f} ms" if per_op else f"{t:.3f} s",
                             f"{t / ref_time:.2f}", f"{peak:.1f}"])
                results.append({"case": case, "tool": tool, "median_s": t, "runs": times,
                                "ratio_to": reference, "ratio": t / ref_time, "peak_rss_mib": peak})
        print(table(["case", "tool", "median", "ratio", "peak RSS MiB"], rows,
                    "Publish (ratio: time / time of 'by hand' in the same case, floor: / sha256sum; lower is faster)"))
        return {"cases": results}


def main() -> None:
    parser = argparse.ArgumentParser(description="strata publish against cp/sha256sum/gzip and rsync")
    parser.add_argument("--strata", required=True)
    parser.add_argument("--v1", required=True)
    parser.add_argument("--v2", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    args.v1, args.v2 = os.path.realpath(args.v1), os.path.realpath(args.v2)
    bench = Bench(args)
    try:
        for number in range(1, args.rounds + 1):
            log(f"publish: round {number} of {args.rounds}")
            bench.round(number)
    except CommandFailed as failure:
        raise SystemExit(f"publish bench: {failure}")
    finally:
        bench.remove_all()
    result = bench.report()
    if args.out:
        save(args.out, result)


if __name__ == "__main__":
    main()
