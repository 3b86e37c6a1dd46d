"""Backup and restore throughput of a ~2 GB tree of mixed files, beside `tar | zstd`.

    .venv/bin/python bench/backups.py [--gb 2] [--level 3] [--keep DIR] [--json out.json]

A tree is generated in a temporary folder: many small cfg/txt files (a SourceMod install's
worth and more), some large incompressible blobs (random bytes, like .vpk/.bsp addons) and
some large compressible ones (text logs, sqlite-like pages). Then, on the same data in the
same run:

- panel backup: hostctl.backups.backup (the backup job's own code, with the default ignore
  list, which leaves nothing of this tree out) writing to a file;
- panel restore: hostctl.restore.unpack + swap_in (the restore job's code: staging folder,
  sha256 check, rename swap) into an empty server folder;
- `tar -cf - . | zstd -<level> -T1` and `zstd -dc | tar -xf -` on the same tree.

MB/s are of the tree's bytes (not the archive's). The page cache is warm for every run (the
tree was just written; every run reads the same). Needs Debian's `zstd` for the comparison
column (`apt-get install zstd`); without it that column is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hostctl import archive, backups, restore  # noqa: E402
from hostctl.spec import ServerSpec  # noqa: E402

MB = 1_000_000


def generate(root: Path, total_gb: float) -> int:
    """The mixed tree; returns its bytes."""
    rng = random.Random(25)
    total = int(total_gb * 1e9)
    small_bytes = int(total * 0.05)
    written = 0
    cfg = root / "left4dead2" / "cfg"
    plugins = root / "left4dead2" / "addons" / "sourcemod"
    words = [b"sm_cvar", b"sv_cheats", b"z_difficulty", b"hostname", b'"1"', b"//", b"exec", b"0.5"]
    i = 0
    while written < small_bytes:
        folder = (cfg if i % 3 else plugins / "configs" / f"set{i % 40}") if i % 5 else plugins / "data"
        folder.mkdir(parents=True, exist_ok=True)
        body = b"\n".join(b" ".join(rng.choices(words, k=6)) for _ in range(rng.randint(10, 120)))
        (folder / f"file{i}.{'cfg' if i % 2 else 'txt'}").write_bytes(body)
        written += len(body)
        i += 1
    blobs = root / "left4dead2" / "addons" / "workshop"
    blobs.mkdir(parents=True, exist_ok=True)
    large = total - written
    incompressible, compressible = int(large * 0.6), large - int(large * 0.6)
    chunk = 16 * 1024 * 1024
    for n, size in enumerate(_split(incompressible, 200 * MB)):
        with open(blobs / f"map{n}.vpk", "wb") as out:
            for left in range(size, 0, -chunk):
                out.write(os.urandom(min(chunk, left)))
        written += size
    logs = root / "left4dead2" / "logs_kept"
    logs.mkdir(parents=True, exist_ok=True)
    line = b'L 12/05/2026 - 10:00:00: "Player<2><STEAM_1:0:12345><Survivor>" say "hello there"\n'
    for n, size in enumerate(_split(compressible, 200 * MB)):
        block = b"".join(line.replace(b"12345", str(rng.randint(0, 99999)).encode()) for _ in range(4096))
        with open(logs / f"stats{n}.log", "wb") as out:
            left = size
            while left > 0:
                out.write(block[:left])
                left -= len(block)
        written += size
    print(f"tree: {i} small files, {written / MB:.0f} MB in all", flush=True)
    return written


def _split(total: int, piece: int) -> list[int]:
    sizes = [piece] * (total // piece)
    if total % piece:
        sizes.append(total % piece)
    return sizes


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def quiet(stream: str, text: str) -> None:
    if stream == "stderr":
        print(text, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gb", type=float, default=2.0, help="size of the tree (default: %(default)s)")
    parser.add_argument("--level", type=int, default=3, help="zstd level for both (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temporary one")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-backups-"))
    try:
        figures = run(work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def run(work: Path, args) -> dict:
    source = work / "servers" / "1"
    source.mkdir(parents=True, exist_ok=True)
    size = generate(source, args.gb)
    figures = {"tree_mb": round(size / MB), "level": args.level}

    archive_path = work / "panel.tar.zst"
    with open(archive_path, "wb") as out:
        start = time.perf_counter()
        made = backups.backup(
            ServerSpec(id=1, install_dir=str(source), port=0),
            out,
            quiet,
            ignore=backups.scope(),
            level=args.level,
        )
        seconds = time.perf_counter() - start
    figures["panel_backup_mb_s"] = round(size / MB / seconds)
    figures["panel_archive_mb"] = round(made.size / MB)
    print(
        f"panel backup:  {seconds:6.1f} s  {size / MB / seconds:6.0f} MB/s  archive {made.size / MB:.0f} MB"
    )

    target = work / "servers" / "2"
    target.mkdir()

    def panel_restore():
        with open(archive_path, "rb") as source_file:
            staging, members = restore.unpack(
                target, source_file, total=made.size, sha256=made.sha256, sink=quiet
            )
        restore.swap_in(target, staging, members, ignore=archive.ignore_spec([]), sink=quiet)

    seconds = timed(panel_restore)
    figures["panel_restore_mb_s"] = round(size / MB / seconds)
    print(f"panel restore: {seconds:6.1f} s  {size / MB / seconds:6.0f} MB/s")
    shutil.rmtree(target)

    if shutil.which("zstd") is None:
        print("tar | zstd: skipped (zstd is not installed: apt-get install zstd)")
        return figures
    tar_path = work / "plain.tar.zst"
    seconds = timed(
        lambda: subprocess.run(
            f"tar -cf - -C {source} . | zstd -q -{args.level} -T1 -o {tar_path}", shell=True, check=True
        )
    )
    figures["tar_zstd_backup_mb_s"] = round(size / MB / seconds)
    figures["tar_zstd_archive_mb"] = round(tar_path.stat().st_size / MB)
    print(
        f"tar | zstd:    {seconds:6.1f} s  {size / MB / seconds:6.0f} MB/s  "
        f"archive {figures['tar_zstd_archive_mb']} MB"
    )
    target.mkdir()
    seconds = timed(
        lambda: subprocess.run(f"zstd -q -dc {tar_path} | tar -xf - -C {target}", shell=True, check=True)
    )
    figures["tar_zstd_restore_mb_s"] = round(size / MB / seconds)
    print(f"zstd -d | tar: {seconds:6.1f} s  {size / MB / seconds:6.0f} MB/s")
    return figures


if __name__ == "__main__":
    main()
