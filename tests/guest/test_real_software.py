"""Real software nobody here wrote, in the guest against the host: libraries from Maven Central
(tests/corpus/pom.xml, fetched by `make corpus`, part of make setup) driven by the small programs
in tests/corpus/java/, and native programs from the host through `lwjvm exec`. Each runs on the
host first (the oracle, in a scratch directory) and must print the same in the guest.

`make test` runs every program in a short form: Lucene (200 documents), the WatchService program,
H2 in file mode (1,000 rows), Jackson with Guava, a Spring Boot CommandLineRunner (Spring Boot's
executable jar, from tests/corpus/spring), python3 with sqlite3 (2,000 rows), the sqlite3
shell (5,000 rows), zstd -3 on 1.7 MB and a C++17 thread pool; `make soak` (LWJVM_SOAK=1) runs the
long forms: Lucene with 2,000 documents, H2 with 20,000 rows, python3 with 20,000 rows, the sqlite3
shell with 50,000 and zstd -19. Each guest Java run is a TCG boot of a JVM: minutes on a loaded
machine. The Java images use `modules: auto`, so these are also the tests of module discovery with
real libraries: Lucene's jars make jdeps throw, and Lucene needs jdk.unsupported for MMapDirectory.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from guest_harness import GuestRunner

from lwjvm.descriptor import ImageDescriptor
from lwjvm.testing import JavaRun, assert_same_run, run_in_guest, run_java

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "tests" / "build" / "corpus" / "lib"
SOURCES = REPO / "tests" / "corpus" / "java"
SOAK = os.environ.get("LWJVM_SOAK") == "1"
LUCENE = ["lucene-core-9.12.3.jar", "lucene-queryparser-9.12.3.jar"]
H2 = ["h2-2.3.232.jar"]
JSON = [
    "jackson-databind-2.21.3.jar", "jackson-core-2.21.3.jar", "jackson-annotations-2.21.jar",
    "guava-33.5.0-jre.jar", "failureaccess-1.0.3.jar",
]  # fmt: skip


@pytest.fixture(scope="session")
def corpus_lib() -> Path:
    """tests/build/corpus/lib, fetched by `make corpus` if it is not there (once, under a lock)."""
    LIB.parent.mkdir(parents=True, exist_ok=True)
    with open(LIB.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(
            ["make", "-s", "-C", str(REPO), "corpus"], capture_output=True, text=True
        )
    if r.returncode != 0:
        pytest.fail(f"make corpus failed: {(r.stderr or r.stdout).strip()[-500:]}")
    return LIB


@pytest.fixture(scope="session")
def corpus_classes(corpus_lib: Path, javac: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/corpus/java compiled against the corpus jars, packed as one jar."""
    work = tmp_path_factory.mktemp("corpus-java")
    sources = {p.name: p.read_text() for p in sorted(SOURCES.glob("*.java"))}
    classes = javac.compile(sources, work / "classes", sorted(corpus_lib.glob("*.jar")))
    from lwjvm.build import jar_directory

    jar = work / "corpus-demo.jar"
    jar_directory(classes, jar)
    return jar


def _manifest(
    work: Path, name: str, jar: Path, libs: list[Path], main: str, args: list[str]
) -> Path:
    doc = {
        "name": name,
        "app": {"jar": str(jar), "classpath": [str(p) for p in libs], "main": main, "args": args},
        "jvm": {"cds": False},
        "vm": {"memory": "512M"},
    }
    work.mkdir(parents=True, exist_ok=True)
    path = work / "app.yaml"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _java_both(
    tmp: Path, java_jdk: Any, jar: Path, lib: Path, names: list[str], main: str, args: list[str]
) -> tuple[JavaRun, JavaRun, Path]:
    """(host run, guest run, image dir) of `main` with the corpus jars `names`."""
    libs = [lib / n for n in names]
    (tmp / "host").mkdir()
    host = run_java(java_jdk, [jar, *libs], main, args, timeout=300, cwd=tmp / "host")
    assert host.exit_code == 0, host.stderr
    manifest = _manifest(tmp / "app", main.lower(), jar, libs, main, args)
    allow = ["--allow-outside", str(jar), "--allow-outside", str(lib)]  # the corpus's jars
    guest = run_in_guest(manifest, tmp / "image", allow, timeout=900, keep_image=True)
    return host, guest, tmp / "image"


def _reasons(image: Path) -> dict[str, str]:
    return ImageDescriptor.read(image).runtime.module_reasons


def test_lucene_indexes_and_searches_with_mmapdirectory_as_on_the_host(
    tmp_path: Path, java_jdk: Any, corpus_classes: Path, corpus_lib: Path
) -> None:
    docs = "2000" if SOAK else "200"
    host, guest, image = _java_both(
        tmp_path, java_jdk, corpus_classes, corpus_lib, LUCENE, "LuceneDemo", [docs]
    )
    assert host.stdout.startswith("directory: MMapDirectory\n")
    assert_same_run(host, guest)
    # lucene-queryparser's descriptor requires modules not on the class path: jdeps throws, and
    # the build retried it without descriptors instead of failing (the test below).
    reasons = _reasons(image)
    assert {"java.logging", "java.xml", "jdk.management"} <= set(reasons)
    assert reasons["jdk.unsupported"].startswith("required by the module descriptor of lucene-core")


def test_jdeps_failure_is_one_line_and_the_build_goes_on(
    tmp_path: Path, java_jdk: Any, corpus_lib: Path
) -> None:
    from lwjvm.jvmtools import JavaTools
    from lwjvm.modules import jdeps_modules

    jars = [corpus_lib / n for n in LUCENE]
    found, how = jdeps_modules(JavaTools(java_jdk), jars, tmp_path)
    assert found is not None and "java.logging" in found
    assert how.startswith("jdeps over the jars as plain class path (java.lang.module.FindException")
    assert "\n" not in how


def test_watchservice_sees_creates_modifies_moves_and_deletes_in_order(
    tmp_path: Path, java_jdk: Any, corpus_classes: Path, corpus_lib: Path
) -> None:
    if "poll," not in (REPO / "kernel" / "linux" / "syscalls.def").read_text():
        pytest.skip("Java's WatchService waits in poll(), which the kernel does not have yet")
    host, guest, _ = _java_both(tmp_path, java_jdk, corpus_classes, corpus_lib, [], "WatchDemo", [])
    assert host.stdout.splitlines()[0] == "ENTRY_CREATE a.txt"
    assert_same_run(host, guest)


def test_h2_in_file_mode_as_on_the_host(
    tmp_path: Path, java_jdk: Any, corpus_classes: Path, corpus_lib: Path
) -> None:
    rows = "20000" if SOAK else "1000"
    host, guest, _ = _java_both(
        tmp_path, java_jdk, corpus_classes, corpus_lib, H2, "H2Demo", [rows]
    )
    assert_same_run(host, guest)


def test_jackson_and_guava_as_on_the_host(
    tmp_path: Path, java_jdk: Any, corpus_classes: Path, corpus_lib: Path
) -> None:
    host, guest, _ = _java_both(
        tmp_path, java_jdk, corpus_classes, corpus_lib, JSON, "JsonDemo", []
    )
    assert_same_run(host, guest)


SPRING_JAR = REPO / "tests" / "build" / "corpus" / "spring" / "corpus-spring.jar"
SPRING_ARGS = ["--mode=corpus", "extra"]


def test_spring_boot_commandlinerunner_fat_jar_as_on_the_host(
    tmp_path: Path, java_jdk: Any, corpus_lib: Path
) -> None:
    # tests/corpus/spring, packed by `make corpus` (the corpus_lib fixture runs it) as Spring
    # Boot's executable jar; lwjvm build extracts it as it does any Spring Boot jar.
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(SPRING_JAR, app / SPRING_JAR.name)
    (tmp_path / "host").mkdir()
    launcher = "org.springframework.boot.loader.launch.JarLauncher"  # what java -jar runs
    host = run_java(java_jdk, [SPRING_JAR], launcher, SPRING_ARGS, timeout=300,
                    cwd=tmp_path / "host")  # fmt: skip
    assert host.exit_code == 0, host.stderr
    assert host.stdout.startswith("hello from a CommandLineRunner\n")
    doc = {"name": "corpus-spring", "app": {"jar": SPRING_JAR.name, "args": SPRING_ARGS},
           "jvm": {"cds": False}, "vm": {"memory": "512M"}}  # fmt: skip
    (app / "app.yaml").write_text(json.dumps(doc, indent=2) + "\n")
    guest = run_in_guest(app / "app.yaml", tmp_path / "image", timeout=1500)
    assert_same_run(host, guest)


# ---- native programs through lwjvm exec ----

NATIVE = REPO / "tests" / "corpus" / "native"


def _exec(guest: GuestRunner, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "600", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=cwd)


def test_python3_with_its_standard_library_and_sqlite3(guest: GuestRunner, tmp_path: Path) -> None:
    py = Path("/usr/bin/python3")
    real = py.resolve()
    if not real.is_file() or not (Path("/usr/lib") / real.name).is_dir():
        pytest.skip("no Debian python3 with its standard library in /usr/lib")
    stdlib = Path("/usr/lib") / real.name
    script = (NATIVE / "sqlite_demo.py").read_text()
    rows = "20000" if SOAK else "2000"
    host = subprocess.run([str(py), "-c", script, rows], capture_output=True, text=True,
                          cwd=tmp_path, env={})  # fmt: skip
    assert host.returncode == 0, host.stderr
    r = _exec(guest, tmp_path, "--add", f"{stdlib}:{stdlib}", str(py), "-c", script, rows)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr


def test_sqlite3_shell(guest: GuestRunner, tmp_path: Path) -> None:
    rows = 50000 if SOAK else 5000
    sql = (
        f"create table t(x); insert into t select value from generate_series(1, {rows});"
        "select count(*), sum(x), avg(x) from t; select group_concat(x) from t where x % 997 = 0;"
    )
    host = subprocess.run(
        ["sqlite3", ":memory:", sql], capture_output=True, text=True, cwd=tmp_path
    )
    if host.returncode != 0:
        pytest.skip(f"the host's sqlite3 cannot run it: {host.stderr.strip()}")
    r = _exec(guest, tmp_path, "sqlite3", ":memory:", sql)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr


def test_zstd_compresses_as_on_the_host(guest: GuestRunner, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(
        b"".join(b"line %d of some compressible text\n" % (i % 500) for i in range(50000))
    )
    level = "-19" if SOAK else "-3"
    host = subprocess.run(
        ["zstd", "-q", level, "-c", "data.txt"], capture_output=True, cwd=tmp_path
    )
    assert host.returncode == 0
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "600"]
    argv += ["--add", f"{data}:{data}", "zstd", "-q", level, "-c", "data.txt"]
    r = subprocess.run(argv, capture_output=True, timeout=900, cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr.decode(errors="replace")


def test_cxx17_thread_pool_with_exceptions(guest: GuestRunner, tmp_path: Path) -> None:
    src = NATIVE / "pool.cpp"
    exe = tmp_path / "pool"
    subprocess.run(["g++", "-std=c++17", "-O2", "-pthread", str(src), "-o", str(exe)], check=True)
    host = subprocess.run(["./pool"], capture_output=True, text=True, cwd=tmp_path)
    assert host.returncode == 0 and "errors 4" in host.stdout
    r = _exec(guest, tmp_path, "./pool")
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr
