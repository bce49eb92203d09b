"""Times the real-software corpus on the host and in the guest (docs/real-software.md has the
table): `python tests/corpus/measure.py [--runs N] [--out FILE]` after `make corpus`.

For each program: the host's wall time (the program alone); in our guest, QEMU start to exit (the
image built beforehand, not counted), the program's own time (boot record to exit record) and,
from the kernel's counters (lwjvm.stats=1), the time spent in our kernel (page faults and system
calls); and the program's own time on a Linux guest in the same QEMU under TCG with the same root
tree (tests/corpus/linux_guest.py), so TCG's cost and our kernel's are told apart. Medians of N
runs (the guest Java runs once each: a TCG boot of a JVM takes minutes on a loaded machine).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # linux_guest
LIB = REPO / "tests" / "build" / "corpus" / "lib"
JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64")
JAVA_CASES = [
    ("Lucene, 200 documents", "LuceneDemo", ["200"], ["lucene-core", "lucene-queryparser"]),
    ("H2 file mode, 2,000 rows", "H2Demo", ["2000"], ["h2-"]),
    ("Jackson + Guava", "JsonDemo", [], ["jackson-", "guava-", "failureaccess"]),
    ("WatchService", "WatchDemo", [], []),
]
PY = "import sqlite3; c = sqlite3.connect(':memory:'); c.execute('create table t(a, b)'); "
PY += "c.executemany('insert into t values (?, ?)', [(i, str(i)) for i in range(2000)]); "
PY += "print(c.execute('select count(*), sum(a) from t').fetchone())"
SQL = "create table t(x); insert into t select value from generate_series(1, 5000); "
SQL += "select count(*), sum(x) from t;"


def _jars(prefixes: list[str]) -> list[Path]:
    return [p for p in sorted(LIB.glob("*.jar")) if any(p.name.startswith(x) for x in prefixes)]


def _host(argv: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.monotonic()
        subprocess.run(argv, cwd=cwd, capture_output=True, check=True, env={})
        times.append(time.monotonic() - t)
    return statistics.median(times)


def _guest_row(name: str, host_s: float, results: list[Any], linux: list[Any]) -> dict[str, Any]:
    qemu = statistics.median(r.vm.t_qemu_exit for r in results)
    logs = [r.vm.log for r in results if r.vm.log is not None]
    kernel = statistics.median(
        (g.stats.get("fault_us", 0) + g.stats.get("syscall_us", 0)) / 1e6 for g in logs
    )
    program = statistics.median((g.exit_at or 0) - (g.boot_at or 0) for g in logs)
    linux_s = statistics.median(r.program_s for r in linux) if linux else None
    return {
        "program": name,
        "host_s": round(host_s, 3),
        "guest_s": round(qemu, 3),
        "guest_program_s": round(program, 3),
        "kernel_s": round(kernel, 3),
        "linux_program_s": round(linux_s, 3) if linux_s is not None else None,
        "ratio": round(program / host_s, 1),
    }


def _linux(root: Path, work: Path, runs: int) -> list[Any]:
    import linux_guest

    out = []
    for _ in range(runs):
        try:
            out.append(linux_guest.run(root, work))
        except Exception as e:  # a figure missing, not a failed measurement run
            print(f"linux guest: {e}", file=sys.stderr)
    return out


def measure_native(work: Path, runs: int) -> list[dict[str, Any]]:
    from lwjvm import elfinfo
    from lwjvm.image import Staging
    from lwjvm.program import ExecRequest, exec_program, find_program, stage_program

    data = work / "data.txt"
    data.write_bytes(b"".join(b"line %d of some text\n" % (i % 500) for i in range(50000)))
    pool = work / "pool"
    sys.path.insert(0, str(REPO / "tests" / "guest"))
    from test_real_software import CXX  # the same program the test runs

    (work / "pool.cpp").write_text(CXX)
    subprocess.run(["g++", "-std=c++17", "-O2", "-pthread", "pool.cpp", "-o", "pool"], cwd=work,
                   check=True)  # fmt: skip
    stdlib = Path("/usr/lib") / Path("/usr/bin/python3").resolve().name
    cases = [
        ("python3 + sqlite3, 2,000 rows", ["/usr/bin/python3", "-c", PY], [f"{stdlib}:{stdlib}"]),
        ("sqlite3 shell, 5,000 rows", ["/usr/bin/sqlite3", ":memory:", SQL], []),
        ("zstd -19, 1 MiB", ["/usr/bin/zstd", "-q", "-19", "-c", "data.txt"], [f"{data}:{data}"]),
        ("C++17 thread pool", [str(pool)], []),
    ]
    rows = []
    os.chdir(work)
    for name, argv, adds in cases:
        host_s = _host(argv, work, runs)
        results = []
        for _ in range(runs):
            req = ExecRequest(program=argv[0], args=argv[1:], adds=adds, accel="tcg",
                              kernel_args=["lwjvm.stats=1"])  # fmt: skip
            results.append(exec_program(req, io.BytesIO(), io.BytesIO()))
        root = work / f"linux-root-{len(rows)}"
        stage_program(Staging(root), ExecRequest(program=argv[0], args=argv[1:], adds=adds),
                      elfinfo.check_program(find_program(argv[0])))  # fmt: skip
        rows.append(_guest_row(name, host_s, results, _linux(root, work, runs)))
        print(rows[-1], flush=True)
    return rows


def measure_java(work: Path, runs: int) -> list[dict[str, Any]]:
    from lwjvm import inspect
    from lwjvm.build import build
    from lwjvm.run import RunRequest, run_app

    classes = work / "classes"
    sources = sorted(str(p) for p in (REPO / "tests" / "corpus" / "java").glob("*.java"))
    cp = ":".join(str(p) for p in sorted(LIB.glob("*.jar")))
    subprocess.run([str(JDK / "bin" / "javac"), "-cp", cp, "-d", str(classes), *sources],
                   check=True)  # fmt: skip
    rows = []
    for name, main, args, prefixes in JAVA_CASES:
        if main == "WatchDemo" and "poll," not in (REPO / "kernel/linux/syscalls.def").read_text():
            continue
        jars = _jars(prefixes)
        host_cp = ":".join([str(classes), *map(str, jars)])
        host_s = _host([str(JDK / "bin" / "java"), "-cp", host_cp, main, *args], work, runs)
        app = work / main
        app.mkdir()
        jar = app / "demo.jar"
        subprocess.run([str(JDK / "bin" / "jar"), "cf", str(jar), "-C", str(classes), "."],
                       check=True)  # fmt: skip
        spec = {"jar": str(jar), "classpath": [str(p) for p in jars], "main": main, "args": args}
        doc = {"name": main.lower(), "app": spec, "jvm": {"cds": True}, "vm": {"memory": "512M"}}
        (app / "app.yaml").write_text(json.dumps(doc))
        build(app / "app.yaml", app / "image", None, allow_outside=jars)
        req = RunRequest(manifest=app / "app.yaml", output=app / "image", accel="tcg",
                         quiet=True, kernel_args=["lwjvm.stats=1"],
                         allow_outside=list(jars))  # fmt: skip
        result = run_app(req, io.BytesIO(), io.BytesIO())
        root = app / "linux-root"
        inspect.extract_root(app / "image" / "root.img", root)
        rows.append(_guest_row(f"{name} (Java)", host_s, [result], _linux(root, app, 1)))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "corpus.json")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lwjvm-corpus-") as td:
        for sub in ("native", "java"):
            (Path(td) / sub).mkdir()
        rows = measure_native(Path(td) / "native", opts.runs)
        rows += measure_java(Path(td) / "java", opts.runs)
    load = os.getloadavg()[0]
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps({"load": load, "rows": rows}, indent=2) + "\n")
    print("| program | host | our guest: QEMU start to exit | program | in our kernel | "
          "Linux guest: program | ours / host |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        lx = f"{r['linux_program_s']:.2f} s" if r["linux_program_s"] is not None else "-"
        ours = f"{r['guest_s']:.2f} s | {r['guest_program_s']:.2f} s | {r['kernel_s']:.2f} s"
        print(f"| {r['program']} | {r['host_s']:.2f} s | {ours} | {lx} | {r['ratio']}x |")
    print(f"load average {load:.1f}")


if __name__ == "__main__":
    main()
