"""Benchmark: the desktop bundle's size and how fast it starts.

Run: .venv/bin/python -m tests.perf.bench_bundle [--build] [--bundle dist/crm-desktop] [--runs 3]

--build runs `bash installer/build.sh --no-deb` first (and times it); otherwise the bundle already
in dist/crm-desktop is measured. Cold = the first run after dropping the page cache (as root on
Linux; otherwise it says so and the first run is merely the first). --self-test is the whole start
of an installed app: embedded PostgreSQL initdb, migrations, demo data, sign-in, main window.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def size_mb(path: Path) -> float:
    return sum(f.lstat().st_size for f in path.rglob("*")) / 1e6


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    env = {**env, "CRM_BENCH_T0": repr(time.time())}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="store_true", help="build the bundle first (installer/build.sh --no-deb)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "crm-desktop")
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each command")
    args = parser.parse_args()

    if args.build:
        t0 = time.perf_counter()
        subprocess.run(
            ["bash", "installer/build.sh", "--no-deb"],
            cwd=ROOT,
            check=True,
            env={**os.environ, "PYTHON": sys.executable},
        )
        print(f"build (PyInstaller, from clean): {time.perf_counter() - t0:.0f} s")
    exe = args.bundle / "crm-desktop"
    if not exe.exists():
        raise SystemExit(f"no bundle at {args.bundle}: run with --build, or bash installer/build.sh")

    print(f"bundle size: {size_mb(args.bundle):.0f} MB ({args.bundle})")
    debs = sorted(args.bundle.parent.glob("crm-desktop_*.deb"))
    if debs:
        print(f".deb size: {debs[-1].stat().st_size / 1e6:.0f} MB ({debs[-1].name})")

    with tempfile.TemporaryDirectory(prefix="crm-bench-home-") as home:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        for label, cmd in (("--version", [str(exe), "--version"]), ("--self-test", [str(exe), "--self-test"])):
            cold = drop_page_cache()
            first, out = timed(cmd, env)
            warm = [timed(cmd, env) for _ in range(args.runs)]
            ready = re.search(r"cold start ms: (\d+)", out)
            note = f"; main window ready at {ready.group(1)} ms" if ready else ""
            print(
                f"{label}: {'cold' if cold else 'first (page cache not dropped: not root)'} {first:.2f} s{note}; "
                f"warm median {statistics.median(w for w, _ in warm):.2f} s (n={args.runs})"
            )


if __name__ == "__main__":
    main()
