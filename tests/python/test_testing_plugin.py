"""The lwjvm.testing fixtures: in-process javac, jar packaging, and the host-JVM oracle."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from lwjvm.testing import CompileError, Javac

EXITS = {
    "Exits.java": """
public class Exits {
    public static void main(String[] args) throws Exception {
        System.out.println("out:" + String.join(",", args));
        System.err.println("err line");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("hook ran")));
        switch (args.length > 0 ? args[0] : "") {
            case "exit": System.exit(Integer.parseInt(args[1]));
            case "throw": throw new IllegalStateException("boom");
            case "thread":
                Thread t = new Thread(() -> {
                    try { Thread.sleep(200); } catch (InterruptedException e) { }
                    System.out.println("late thread");
                });
                t.start();
                break;
            default:
        }
    }
}
""",
}


@pytest.fixture(scope="module")
def exits_jar(java_program: Any) -> Path:
    return java_program("exits", EXITS, main="Exits")


def test_compile_error_reports_javac_diagnostics(javac: Javac, tmp_path: Path) -> None:
    with pytest.raises(CompileError) as info:
        javac.compile({"Bad.java": "class Bad { void f() { undefined(); } }"}, tmp_path / "c")
    assert "Bad.java:1: error: cannot find symbol" in str(info.value)


def test_jar_has_main_class_and_fixed_dates(java_program: Any) -> None:
    a = java_program("same1", {"Same.java": "public class Same {}"}, main="Same")
    b = java_program("same2", {"Same.java": "public class Same {}"}, main="Same")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize(
    "args",
    [[], ["exit", "7"], ["exit", "0"], ["throw"], ["thread"]],
    ids=["return", "exit7", "exit0", "uncaught", "nondaemon-thread"],
)
def test_oracle_matches_the_java_launcher(
    host_java: Any, java_jdk: Any, exits_jar: Path, args: list[str]
) -> None:
    got = host_java([exits_jar], "Exits", args)
    real = subprocess.run(
        [str(java_jdk.java), "-cp", str(exits_jar), "Exits", *args], capture_output=True, text=True
    )
    assert (got.exit_code, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)


def test_system_exit_does_not_end_pytest(host_java: Any, exits_jar: Path) -> None:
    run = host_java([exits_jar], "Exits", ["exit", "42"])
    assert run.exit_code == 42
    assert run.stdout == "out:exit,42\nhook ran\n"
    assert run.stderr == "err line\n"


def test_missing_main_class(host_java: Any, exits_jar: Path) -> None:
    run = host_java([exits_jar], "NoSuchClass")
    assert run.exit_code == 1
    assert "Could not find or load main class NoSuchClass" in run.stderr
