"""The export region (docs/protocol.md section 7): a boot hands one guest file back to the host
when its program exits, which is how lwjvm build's training runs in the guest return their
results (lwjvm/guestrun.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from guest_harness import GuestRunner

from lwjvm import guestrun

WRITER = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "w");
    for (int i = 0; i < atoi(argv[2]); i++) fprintf(f, "line %d\n", i);
    fclose(f);
    return 3;
}
"""


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for d in ("bin", "tmp", "proc", "dev", "sys"):
        (root / d).mkdir(parents=True)
    src = tmp_path / "writer.c"
    src.write_text(WRITER)
    subprocess.run(["gcc", "-static", "-O2", str(src), "-o", str(root / "bin" / "writer")],
                   check=True)  # fmt: skip
    return root


def test_a_file_the_program_wrote_comes_back_at_exit(guest: GuestRunner, tmp_path: Path) -> None:
    root = _root(tmp_path)
    run = guestrun.run_in_guest(root, ["/bin/writer", "/tmp/out.txt", "200000"], {}, "/",
                                "/tmp/out.txt", 128)  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert run.export_problem is None
    assert run.exported == b"".join(b"line %d\n" % i for i in range(200000))


def test_a_missing_file_is_reported_not_invented(guest: GuestRunner, tmp_path: Path) -> None:
    root = _root(tmp_path)
    run = guestrun.run_in_guest(root, ["/bin/writer", "/tmp/out.txt", "1"], {}, "/",
                                "/tmp/elsewhere.txt", 128)  # fmt: skip
    assert run.returncode == 3
    assert run.exported is None and run.export_problem == "no such regular file"
