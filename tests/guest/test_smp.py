"""`lwjvm exec --cpus N` boots N virtual CPUs: the kernel finds them in the ACPI MADT (microvm with
acpi=on, q35) and starts each with INIT and start-up IPIs; the program's threads run on all of
them. The default boot stays on one CPU. The whole guest C and Java corpora also run on 2 CPUs
against the host (test_guest_c.py, test_guest_java.py); here are the tests that only make sense
with several: CPU discovery, Java's parallel collectors counting their workers, and smp_race
repeated on 4 CPUs in `make soak`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from guest_harness import GuestRunner, describe_mismatch, run_on_host
from test_guest_c import CASES
from test_guest_java import MODULES, _skip_unless_ready

from lwjvm.testing import assert_same_run, guest_unavailable, lwjvm_command

HELLO = r"""
#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
"""


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("smp")
    (d / "hello.c").write_text(HELLO)
    subprocess.run(["gcc", "-O2", "-o", str(d / "hello"), str(d / "hello.c")], check=True)
    return d / "hello"


def run(hello: Path, cwd: Path, *opts: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lwjvm_command(), "-v", "exec", "--accel", "tcg", "--timeout", "240", "--memory", "256M",
         *opts, str(hello)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(("machine", "cpus"), [("microvm", 2), ("microvm", 4), ("q35", 2)])
def test_every_cpu_starts(machine: str, cpus: int, hello: Path, tmp_path: Path) -> None:
    r = run(hello, tmp_path, "--machine", machine, "--cpus", str(cpus))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert f"lwjvm kernel: {cpus} CPUs started" in r.stderr
    assert "did not start" not in r.stderr


def test_one_cpu_by_default(hello: Path, tmp_path: Path) -> None:
    r = run(hello, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert "CPUs started" not in r.stderr


def test_the_program_sees_every_cpu(tmp_path: Path) -> None:
    if guest_unavailable():
        pytest.skip(str(guest_unavailable()))
    src = tmp_path / "cpus.c"
    src.write_text(
        "#define _GNU_SOURCE\n#include <sched.h>\n#include <stdio.h>\n#include <unistd.h>\n"
        "int main(void) { cpu_set_t s; sched_getaffinity(0, sizeof s, &s);\n"
        '  printf("%ld %d\\n", sysconf(_SC_NPROCESSORS_ONLN), CPU_COUNT(&s));\n'
        '  FILE *f = fopen("/sys/devices/system/cpu/online", "r"); char b[32] = {0};\n'
        '  fgets(b, sizeof b, f); printf("%s", b); return 0; }\n'
    )
    exe = tmp_path / "cpus"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    for cpus, online in ((1, "0"), (2, "0-1"), (4, "0-3")):
        r = run(exe, tmp_path, "--cpus", str(cpus))
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"{cpus} {cpus}\n{online}\n"


SOAK_MINUTES = float(os.environ.get("LWJVM_SMP_SOAK_MINUTES", "0"))


@pytest.mark.skipif(not SOAK_MINUTES, reason="make soak only (LWJVM_SMP_SOAK_MINUTES)")
def test_racing_programs_soak_on_four_cpus(
    corpus: Path, tmp_path: Path, guest: GuestRunner
) -> None:
    race = next(c for c in CASES if c.program == "smp_race")
    (tmp_path / "host").mkdir()
    host = run_on_host(race, corpus, tmp_path / "host")
    runner = GuestRunner(guest.command, cpus=4)
    deadline = time.monotonic() + SOAK_MINUTES * 60
    runs = 0
    while time.monotonic() < deadline:
        d = tmp_path / f"guest{runs}"
        d.mkdir()
        out = runner.run(race, corpus, d)
        assert (out.exit_code, out.stdout) == (host.exit_code, host.stdout), (
            f"run {runs}: " + describe_mismatch(race, host, out, 4)
        )
        runs += 1


PARALLEL_SOURCE = """
import java.util.stream.IntStream;
import java.util.stream.LongStream;

public class ParallelSum {
    public static void main(String[] args) {
        System.out.println("cpus>=2: " + (Runtime.getRuntime().availableProcessors() >= 2));
        long s = LongStream.range(0, 2_000_000).parallel().map(x -> (x * x) % 1000003).sum();
        System.out.println("sum " + s);
        long total = IntStream.range(0, 8).parallel().mapToLong(i -> {
            long t = 0;
            for (int k = 0; k < 20000; k++) {
                byte[] b = new byte[1024];
                b[k % 1024] = (byte) k;
                t += b[k % 1024] & 0xff;
            }
            return t;
        }).sum();
        System.out.println("alloc " + total);
    }
}
"""


def test_java_parallel_streams_and_parallel_gc_on_two_cpus(java_guest_and_host: Any) -> None:
    """The JVM counts 2 CPUs itself and runs a parallel stream and ParallelGC's workers on them
    under allocation pressure, with the host's results."""
    _skip_unless_ready("17", "inline")
    host, guest = java_guest_and_host(
        "parallel", {"ParallelSum.java": PARALLEL_SOURCE}, "ParallelSum",
        jvm_options=("-XX:+UseParallelGC",), modules=MODULES, cpus=2,
    )  # fmt: skip
    assert host.exit_code == 0 and "cpus>=2: true" in host.stdout, host
    assert_same_run(host, guest)


GC_WORKERS_SOURCE = """
import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

public class GcWorkers {
    static final class Node {
        final long id;
        final byte[] payload;
        Node next;

        Node(long id, Node next) {
            this.id = id;
            this.payload = new byte[512 + (int) (id % 48) * 64];
            for (int i = 0; i < payload.length; i += 61) {
                payload[i] = (byte) (id + i);
            }
            this.next = next;
        }

        boolean intact() {
            for (int i = 0; i < payload.length; i += 61) {
                if (payload[i] != (byte) (id + i)) {
                    return false;
                }
            }
            return payload.length == 512 + (int) (id % 48) * 64;
        }
    }

    // One mutator: a ring of short chains of live nodes, replaced in a fixed pseudo-random order,
    // each node checked when it is dropped; returns {checksum, broken nodes}.
    static long[] mutate(int seed, int steps, boolean explicitGc) {
        Node[] ring = new Node[384];
        long x = 0x2545F4914F6CDD1DL * (seed + 1);
        long sum = 0;
        long broken = 0;
        for (int s = 0; s < steps; s++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            int slot = (int) ((x >>> 1) % ring.length);
            Node old = ring[slot];
            for (Node n = old; n != null; n = n.next) {
                sum += n.id * 31 + n.payload.length;
                if (!n.intact()) {
                    broken++;
                }
            }
            long id = (long) seed * 1_000_000 + s;
            ring[slot] = new Node(id, (s % 3 == 0) ? null : new Node(id + 500_000, null));
            if (explicitGc && s % 20_000 == 19_999) {
                System.gc();
            }
        }
        return new long[] {sum, broken};
    }

    public static void main(String[] args) throws Exception {
        int threads = 3;
        int steps = Integer.parseInt(args[0]);
        long[][] results = new long[threads][];
        Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final int seed = t;
            ts[t] = new Thread(() -> results[seed] = mutate(seed, steps, seed == 0));
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        HotSpotDiagnosticMXBean hs = ManagementFactory.getPlatformMXBean(
                HotSpotDiagnosticMXBean.class);
        int workers = Integer.parseInt(hs.getVMOption("ParallelGCThreads").getValue());
        System.out.println("cpus>=2: " + (Runtime.getRuntime().availableProcessors() >= 2));
        System.out.println("parallel workers>=2: " + (workers >= 2));
        StringBuilder names = new StringBuilder();
        boolean young = false;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            names.append(names.length() == 0 ? "" : ", ").append(gc.getName());
            String n = gc.getName();
            if ((n.contains("Young") || n.contains("Scavenge")) && gc.getCollectionCount() > 0) {
                young = true;
            }
        }
        System.out.println("collectors: " + names);
        System.out.println("young collections: " + young);
        for (int t = 0; t < threads; t++) {
            System.out.println(
                    "thread " + t + ": sum " + results[t][0] + ", broken " + results[t][1]);
        }
    }
}
"""


@pytest.mark.parametrize(
    "gc",
    [("-XX:+UseG1GC", "-XX:+ExplicitGCInvokesConcurrent"), ("-XX:+UseParallelGC",)],
    ids=["g1", "parallel"],
)
def test_java_gc_parallel_workers_under_allocation_pressure_on_two_cpus(
    gc: tuple[str, ...], java_guest_and_host: Any
) -> None:
    """Three threads allocate and drop chains of checked objects in a 64 MiB heap on 2 CPUs, while
    the collector's parallel workers (as many as the JVM counts CPUs: at least 2) copy and mark
    them (G1 also marks concurrently on System.gc()); every object dropped is intact, and the sums
    and collectors are the host's."""
    _skip_unless_ready("17", "inline")
    host, guest = java_guest_and_host(
        "gcworkers", {"GcWorkers.java": GC_WORKERS_SOURCE}, "GcWorkers", args=("100000",),
        jvm_options=(*gc, "-Xmx64m"), modules=(*MODULES, "jdk.management"), cpus=2,
    )  # fmt: skip
    assert host.exit_code == 0, host
    assert "cpus>=2: true" in host.stdout and "parallel workers>=2: true" in host.stdout, host
    assert "young collections: true" in host.stdout and "broken 0" in host.stdout, host
    assert_same_run(host, guest)
