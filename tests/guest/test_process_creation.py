"""Process creation in the guest: a lwjvm VM runs one process, so fork, vfork and
process-creating clones fail with EPERM, the JDK's ProcessBuilder says so in words that fit, and
lwjvm's cause line names the call with its flags (docs/protocol.md section 5). The host cannot be
the oracle here (it starts the process), so the expected messages are written out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lwjvm.jdk import open_jdk

SOURCE = """
public class StartProcess {
    public static void main(String[] args) throws Exception {
        try {
            Process p = new ProcessBuilder("ls", "/").start();
            System.out.println("started, exit " + p.waitFor());
        } catch (java.io.IOException e) {
            System.out.println("IOException: " + e.getMessage().strip());
            System.exit(3);
        }
    }
}
"""
JDK25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
EXPECTED = {
    "17": 'IOException: Cannot run program "ls": error=1, Operation not permitted\n',
    "25": 'IOException: Cannot run program "ls": fork failed, error: 1 (Operation not permitted)\n',
}


@pytest.mark.parametrize("version", ["17", "25"])
def test_process_builder_fails_with_eperm_and_a_cause_line_naming_the_clone(
    version: str, java_program: Any, guest_java: Any, java_jdk: Any
) -> None:
    if version == "25" and not (JDK25 / "release").is_file():
        pytest.skip(f"{JDK25} not installed")
    jdk = open_jdk(JDK25, "test") if version == "25" else java_jdk
    jar = java_program(f"StartProcess{version}", {"StartProcess.java": SOURCE}, "StartProcess")
    guest = guest_java(jar, "StartProcess", jdk=jdk, cds=False)
    assert guest.exit_code == 3, guest.stderr
    assert guest.stdout == EXPECTED[version]
    assert "Possible reasons" not in guest.stdout  # JDK 25's POSIX_SPAWN text (not used)
    assert "lwjvm: the app exited with 3 after it tried to start a process (clone (flags 0x" in (
        guest.stderr
    ), guest.stderr
