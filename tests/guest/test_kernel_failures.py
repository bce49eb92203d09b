"""How the guest kernel reports its own failures and fatal faults in the program, as documented in
docs/protocol.md (section 5): a panic gives exit code 123 with the panic text and a symbolised
backtrace on stderr; a program killed by a signal exits 128+signo with the faulting context."""

from __future__ import annotations

import io
import os
import random
import select
import subprocess
import time
from pathlib import Path

import pytest
from guest_harness import GuestRunner

# The mutant tests below: 24 seeded mutants each in CI; `make soak` sets more and a new seed
# (LWJVM_MUTANTS, LWJVM_MUTANT_SEED), and a failure names both so that it can be replayed.
MUTANTS = int(os.environ.get("LWJVM_MUTANTS", "24"))
MUTANT_SEED = int(os.environ.get("LWJVM_MUTANT_SEED", "15"))
NEVER = (122, 123, 124)  # the VM stopped without an exit record, a kernel panic, a hang


def _exec(guest: GuestRunner, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "60", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_kernel_panic_exits_123_with_text_and_symbolised_backtrace(
    guest: GuestRunner, corpus: Path
) -> None:
    r = _exec(guest, "--kernel-arg", "lwjvm.panic_test=1", str(corpus / "hello-static"))
    assert r.returncode == 123, r.stderr
    assert "kernel panic: deliberate panic requested by lwjvm.panic_test=1" in r.stderr
    assert "backtrace:" in r.stderr
    assert "kmain+0x" in r.stderr  # addresses are resolved to kernel function names
    assert r.stdout == ""


# Makes CPU 1 the one a bounded wait waits for (core/waitlimit.h): a thread pinned there spins
# in user mode, or arms a POSIX timer again and again; main, on CPU 0, then unmaps memory (a TLB
# shootdown CPU 1 is asked to flush) or deletes the timer.
STUCK = r"""
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile long progress;
static timer_t volatile timer;
static int use_timer;

static void pin(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

static void *other(void *arg)
{
    (void)arg;
    pin(1);
    for (;;) {
        progress++; /* first: main waits for a first step before it watches for the last */
        if (use_timer) { /* armed for 1 ms, then 3 ms in user mode: it fires on this CPU */
            struct itimerspec its = {{0, 0}, {0, 1000000}};
            timer_settime(timer, 0, &its, NULL);
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do
                clock_gettime(CLOCK_MONOTONIC, &t);
            while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 3000000);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    use_timer = argc > 1 && !strcmp(argv[1], "timer");
    pin(0);
    signal(SIGUSR1, SIG_IGN);
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    if (use_timer && timer_create(CLOCK_MONOTONIC, &ev, (timer_t *)&timer) != 0)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    while (!progress)
        ;
    if (use_timer) {
        /* CPU 1 may be in the timer's callback once its thread has made no progress for 300 ms:
         * delete the timer (which waits for that callback), then go on with a new one in case
         * it was only CPU 1 not being run by the host. With nothing stuck, it ends after 3 s. */
        long seen = progress;
        for (int round = 0, still = 0; round < 30; round++) {
            usleep(100000);
            if (progress != seen) {
                seen = progress;
                still = 0;
            } else if (++still == 3) {
                timer_delete(timer);
                if (timer_create(CLOCK_MONOTONIC, &ev, (timer_t *)&timer) != 0)
                    return 2;
                still = 0;
            }
        }
        timer_delete(timer);
    } else {
        for (int i = 0; i < 1000; i++) {
            char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            p[0] = 1;
            munmap(p, 4096);
        }
    }
    puts("no wait was stuck");
    return 0;
}
"""

NMI_REPORT = "cpu 1, which did not answer, was here (NMI):"
STUCK_WAITS = [
    ("tlb", "tlb", "kernel panic: TLB shootdown: cpu 1 has not flushed 2 s after cpu 0 asked it "
     "(it runs thread 2, syscall -1)", NMI_REPORT + "\nin thread 2\n"),
    ("timer", "timer",
     "kernel panic: timer callback fire has run on cpu 1 for 2 s: cpu 0 cannot cancel its timer",
     NMI_REPORT),
    ("icr", "tlb", "kernel panic: IPI: the local APIC of cpu 0 has not accepted its previous IPI "
     "within 2 s (icr 0x4500 to APIC id 1)", None),
]  # fmt: skip


@pytest.mark.parametrize(("inject", "mode", "message", "nmi"), STUCK_WAITS,
                         ids=[w[0] for w in STUCK_WAITS])
def test_a_wait_for_another_cpu_that_never_ends_panics_with_its_cause(
    guest: GuestRunner, tmp_path: Path, inject: str, mode: str, message: str, nmi: str | None
) -> None:
    """A CPU that never answers a TLB shootdown, a timer callback that never returns on another
    CPU, an IPI the local APIC never accepts (each made so by lwjvm.wait_test=, the limit cut to
    2 s): the kernel panics naming what it waited for and where, never spins without a word; the
    CPU that did not answer first says where it was, through an NMI (its registers and backtrace:
    the callback still in `fire`). The same program without the switch runs to its end."""
    (tmp_path / "stuck.c").write_text(STUCK)
    exe = tmp_path / "stuck"
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(exe), str(tmp_path / "stuck.c")],
                   check=True)  # fmt: skip
    r = _exec(guest, "--cpus", "2", "--kernel-arg", f"lwjvm.wait_test={inject}",
              "--kernel-arg", "lwjvm.wait_limit_s=2", str(exe), mode)  # fmt: skip
    assert r.returncode == 123, r.stderr
    assert message in r.stderr, r.stderr
    assert "backtrace:" in r.stderr
    if nmi is not None:
        report = r.stderr[r.stderr.index(NMI_REPORT) : r.stderr.index(message)]
        assert report.startswith(nmi), r.stderr
        assert "backtrace:" in report and ("fire+0x" in report) == (inject == "timer"), r.stderr
    if inject != "icr":
        clean = _exec(guest, "--cpus", "2", str(exe), mode)
        assert clean.returncode == 0, clean.stderr
        assert clean.stdout == "no wait was stuck\n"


# Writes 8 MiB to stdout while a second thread counts 10 ms sleeps.
STALLED_STDOUT = r"""
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile long steps;

static void *ticker(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10000000};
    for (;;) {
        nanosleep(&ts, NULL);
        steps++;
    }
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    pthread_t t;
    pthread_create(&t, NULL, ticker, NULL);
    while (!steps)
        usleep(1000);
    long s0 = steps;
    double t0 = now();
    fputs("writing\n", stderr);
    for (int i = 0; i < 128; i++) /* 8 MiB */
        for (size_t off = 0; off < sizeof chunk;) {
            ssize_t n = write(1, chunk + off, sizeof chunk - off);
            if (n <= 0)
                return 2;
            off += (size_t)n;
        }
    fprintf(stderr, "stdout took %.1f s; the other thread made %ld steps meanwhile\n", now() - t0,
            steps - s0);
    return 0;
}
"""


def test_a_stdout_the_host_does_not_read_blocks_the_writer_not_the_kernel(
    guest: GuestRunner, tmp_path: Path
) -> None:
    """While nobody reads lwjvm's stdout (its pipe full, QEMU throttles the console port), the
    program's write sleeps until the console's buffers come back: the other thread's sleeps keep
    ending (timers, scheduling) on the one CPU. Before, the writer spun in the kernel with
    interrupts off until the host read again: on 1 CPU nothing else ran (9 steps in a 4.9 s
    stall, against some 470 after). Everything written arrives."""
    (tmp_path / "stall.c").write_text(STALLED_STDOUT)
    exe = tmp_path / "stall"
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(exe), str(tmp_path / "stall.c")],
                   check=True)  # fmt: skip
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "120", str(exe)]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stderr is not None
    first = b""  # up to the program's "writing" (a slow boot on a loaded host is not the stall)
    deadline = time.monotonic() + 120
    while b"writing\n" not in first and p.poll() is None and time.monotonic() < deadline:
        if select.select([p.stderr], [], [], 1.0)[0]:
            first += os.read(p.stderr.fileno(), 4096)
    time.sleep(4)  # stdout unread: the guest's writes stall
    out, err = p.communicate(timeout=240)
    text = (first + err).decode(errors="replace")
    assert p.returncode == 0, text
    assert out == b"x" * (8 << 20)
    line = next(x for x in text.splitlines() if x.startswith("stdout took "))
    took, steps = float(line.split()[2]), int(line.split()[-3])
    assert took >= 2.0, line  # the stall happened (else the test proves nothing)
    assert steps >= 50, line  # 10 ms sleeps went on ending through it


NONBLOCKING_STDOUT = r"""
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Fills a non-blocking stdout nobody reads, then asks poll and epoll when it may write again.
 * Between the program and the reader there may be buffers still taking bytes for a moment (lwjvm
 * holds some while its reader is slow): it fills again until a poll after a pause says full. */
int main(void)
{
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    if (fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK))
        return 2;
    struct pollfd p = {1, POLLOUT, 0};
    int eagain = 0, r = 1;
    for (int round = 0; round < 100 && r != 0; round++) {
        long total = 0;
        ssize_t n = 0;
        while (total < (64L << 20) && (n = write(1, chunk, sizeof chunk)) > 0)
            total += n;
        eagain = n < 0 && errno == EAGAIN;
        usleep(200000);
        r = poll(&p, 1, 0);
    }
    fprintf(stderr, "prog: filled: %s\n", eagain ? "EAGAIN" : "no EAGAIN");
    fprintf(stderr, "prog: poll when full: %d, revents %#x\n", r, p.revents);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT}, got = {0};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 1, &ev))
        return 3;
    r = epoll_wait(ep, &got, 1, 0);
    fprintf(stderr, "prog: epoll_wait when full: %d\n", r);
    r = epoll_wait(ep, &got, 1, 120000);
    fprintf(stderr, "prog: epoll_wait once read: %d, %s\n", r,
            got.events & EPOLLOUT ? "EPOLLOUT" : "-");
    p.revents = 0;
    r = poll(&p, 1, 120000);
    fprintf(stderr, "prog: poll once read: %d, revents %#x\n", r, p.revents);
    return 0;
}
"""


def _stalled_stderr(argv: list[str]) -> tuple[int, list[str], str, bool]:
    """Runs argv with its stdout unread until the program has said on stderr what it saw with the
    pipe full (its "epoll_wait at once" line: no sleep to guess how long a boot takes), then
    drained; its exit code, the program's stderr lines, the whole stderr, and whether that line
    came while stdout was still unread."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert p.stderr is not None
    got = b""
    deadline = time.monotonic() + 240
    while b"prog: epoll_wait when full" not in got and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stderr], [], [], 1.0)
        if ready:
            chunk = os.read(p.stderr.fileno(), 65536)
            if not chunk:
                break  # it ended before saying so: the assertions show why
            got += chunk
    before = b"prog: epoll_wait when full" in got
    _, err = p.communicate(timeout=240)
    text = (got + err).decode(errors="replace")
    return p.returncode, [x for x in text.splitlines() if x.startswith("prog: ")], text, before


def test_a_stdout_the_host_does_not_read_polls_not_writable_until_it_does(
    guest: GuestRunner, tmp_path: Path
) -> None:
    """A non-blocking stdout nobody reads yet: write says EAGAIN, poll and epoll say not
    writable, and both wake with POLLOUT once the host reads again, as a pipe does on the host
    (the oracle). The console used to report itself always writable: an event loop spun. Its
    stderr reaches lwjvm's meanwhile (each stream has its own writer on the host side)."""
    (tmp_path / "nbout.c").write_text(NONBLOCKING_STDOUT)
    exe = tmp_path / "nbout"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(tmp_path / "nbout.c")], check=True)
    code, host, _, _ = _stalled_stderr([str(exe)])
    assert code == 0 and host[0] == "prog: filled: EAGAIN", host
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "200", str(exe)]
    code, lines, text, before = _stalled_stderr(argv)
    assert code == 0, text
    assert lines == host, text
    assert before, "the program's stderr waited for its stdout to be read"


def test_program_fault_without_handler_exits_128_plus_signal_with_context(
    guest: GuestRunner, tmp_path: Path
) -> None:
    src = tmp_path / "crash.c"
    src.write_text("int main(void) { *(volatile int *)16 = 1; return 0; }\n")
    exe = tmp_path / "crash"
    subprocess.run(["gcc", "-static", "-O0", str(src), "-o", str(exe)], check=True)
    host = subprocess.run([str(exe)], capture_output=True)
    assert host.returncode == -11  # the oracle: SIGSEGV on the host
    r = _exec(guest, str(exe))
    assert r.returncode == 128 + 11, r.stderr
    assert "program killed by signal 11 (SIGSEGV)" in r.stderr
    assert "address 0000000000000010" in r.stderr


def test_root_image_as_initrd_module_still_boots(
    guest: GuestRunner, corpus: Path, tmp_path: Path
) -> None:
    """The fallback of protocol section 1: the image as the PVH module (-initrd) instead of the
    ivshmem device, for running the kernel by hand."""
    from lwjvm import bootconf, qemu, vm
    from lwjvm.image import Staging, build_image

    staging = Staging(tmp_path / "stage")
    staging.stage_file(corpus / "hello-static", "/bin/hello")
    conf = bootconf.BootConfig.make("/bin/hello", ["hello"])
    staging.stage_bytes(conf.render(), bootconf.PATH)
    image = tmp_path / "root.img"
    build_image(tmp_path / "stage", image)
    out = tmp_path / "out"
    cmd = [
        qemu.find_qemu(), "-M", "microvm", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-m", "64M", *qemu.accel_args("tcg"), "-kernel", str(vm.find_kernel()),
        "-initrd", str(image), "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-chardev", f"file,id=c1,path={out}", "-device", "isa-serial,chardev=c1,iobase=0x3f8,irq=4",
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    assert r.returncode == 1, r.stderr  # debug-exit byte 0: the exit record path
    assert out.read_bytes() == b"Hello from lwjvm!\n"


def test_mutated_programs_are_refused_or_run_never_a_panic(
    guest: GuestRunner, corpus: Path, tmp_path: Path
) -> None:
    """Seeded mutations of a static program's ELF and program headers, run with lwjvm exec: the
    host tool refuses one (125, one line), the kernel refuses one (126 with its reason, protocol
    section 4), or the program runs and exits or dies of a signal; the kernel never panics."""
    import struct

    orig = (corpus / "hello-static").read_bytes()
    phoff = struct.unpack_from("<Q", orig, 32)[0]
    rng = random.Random(MUTANT_SEED)
    specials = [0, 1, 0x7F, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFFFF000, 0x800000000000,
                0xFFFF800000000000, 0xFFFFFFFFFFFFFFFF]  # fmt: skip
    for i in range(MUTANTS):
        data = bytearray(orig)
        for _ in range(rng.randint(1, 3)):
            at = rng.choice([rng.randrange(64), phoff + rng.randrange(56 * 4)])
            width = rng.choice([1, 2, 4, 8])
            value = rng.choice(specials) & ((1 << (8 * width)) - 1)
            data[at : at + width] = value.to_bytes(width, "little")
        exe = tmp_path / f"mutant{i}"
        exe.write_bytes(bytes(data))
        exe.chmod(0o755)
        r = _exec(guest, str(exe))
        which = f"LWJVM_MUTANT_SEED={MUTANT_SEED} mutant {i}"
        assert r.returncode not in NEVER, f"{which}: {r.returncode}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 125:
            assert r.stderr.startswith("lwjvm: error: ") and r.stderr.count("\n") == 1, r.stderr
        if r.returncode == 126:
            assert f"lwjvm: cannot start {exe}: ENOEXEC" in r.stderr, r.stderr


# Valid lines of every kind (docs/protocol.md section 2) and hostile ones, for the mutants below.
BOOT_LINES = [
    b"exec=/bin/hello", b"arg=hello", b"arg=a\\nb", b"arg=", b"env=A=1", b"env=PATH=/bin",
    b"cwd=/", b"cwd=/tmp", b"net.ipv4=10.0.2.15/24", b"net.gateway=10.0.2.2", b"net.dns=10.0.2.3",
    b"net.hostname=guest", b"lwjvm-boot 1", b"lwjvm-boot 2", b"exec=", b"exec=/nonexistent",
    b"exec=/etc/lwjvm/boot.conf", b"exec=/bin", b"cwd=/nonexistent", b"cwd=", b"arg=\\q",
    b"arg=\\", b"=", b"noequals", b"net.ipv4=300.1.1.1/99", b"net.ipv4=10.0.2.15",
    b"net.gateway=x", b"unknown=1", b"env=", b"env=NOEQUALS", b"\xff\xfe=\x00",
    b"arg=" + b"x" * 70_000, b"env=" + b"Y=" + b"y" * 5_000,
]


_VALID = b"lwjvm-boot 1\nexec=/bin/hello\narg=hello\n"
# Cases every run tries first: no file, an empty one, only the header, a working directory that
# is missing, empty or a file, a program that is the configuration itself, a 1 MiB argument,
# 100,000 arguments, a file without a final newline.
BOOT_CASES: list[bytes | None] = [
    None, b"", b"lwjvm-boot 1\n", _VALID + b"cwd=/nonexistent\n", _VALID + b"cwd=\n",
    _VALID + b"cwd=/bin/hello\n", b"lwjvm-boot 1\nexec=/etc/lwjvm/boot.conf\narg=x\n",
    _VALID + b"arg=" + b"a" * (1 << 20) + b"\n", _VALID + b"arg=x\n" * 100_000,
    _VALID + b"cwd=/",
]


def _boot_conf_mutant(rng: random.Random) -> bytes:
    """A boot.conf from the format's lines, then mutated: lines dropped, repeated, swapped or
    added (thousands of args at times), bytes flipped or cut, the final newline removed. The
    header stays first in most, so that the mutants reach past it."""
    lines = [b"lwjvm-boot 1", b"exec=/bin/hello", b"arg=hello", b"env=A=1", b"cwd=/"]
    for _ in range(rng.randint(0, 4)):
        op = rng.randrange(10)
        first = 0 if rng.random() < 0.1 else 1  # the header too, now and then
        if op == 0 and len(lines) > 1:
            del lines[rng.randrange(first, len(lines))]
        elif op <= 4:
            lines.insert(rng.randrange(first, len(lines) + 1), rng.choice(BOOT_LINES))
        elif op <= 6:
            lines += [rng.choice(BOOT_LINES[:6])] * rng.choice([2, 100, 5_000])
        elif op <= 8 and len(lines) > 2:
            i, j = rng.randrange(first, len(lines)), rng.randrange(first, len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines.insert(first, rng.choice(BOOT_LINES))
    data = bytearray(b"\n".join(lines) + b"\n")
    for _ in range(rng.choice([0, 0, 1, 3])):
        data[rng.randrange(len(data))] = rng.choice([0, 0x0A, 0x3D, 0x5C, 0xFF, rng.randrange(256)])
    if rng.random() < 0.2:
        del data[rng.randrange(len(data) + 1) :]
    if data.endswith(b"\n") and rng.random() < 0.1:
        data = data[:-1]
    return bytes(data)


def test_mutated_boot_configurations_are_refused_or_run_never_a_panic(
    corpus: Path, tmp_path: Path
) -> None:
    """Seeded boot.conf mutants in a root image booted directly: the kernel runs the program
    (exit 0, or 126/127 when `exec` names something it cannot load) or refuses the configuration
    with its reason, the `lwjvm:error` record and 125 (protocol sections 4-5); never a panic, a
    hang or a stop without an exit record."""
    from lwjvm import bootconf, qemu, vm
    from lwjvm.image import Staging, build_image

    rng = random.Random(MUTANT_SEED)
    seen: dict[int, int] = {}
    for i in range(len(BOOT_CASES) + MUTANTS):
        conf = BOOT_CASES[i] if i < len(BOOT_CASES) else _boot_conf_mutant(rng)
        stage = tmp_path / f"stage{i}"
        staging = Staging(stage)
        staging.stage_file(corpus / "hello-static", "/bin/hello")
        if conf is not None:
            staging.stage_bytes(conf, bootconf.PATH)
        image = tmp_path / "root.img"
        build_image(stage, image)
        cfg = qemu.VmConfig(
            kernel=vm.find_kernel(), initrd=image, memory_mib=64, timeout=120,
            append=["lwjvm.quiet=1"],
        )  # fmt: skip
        out, err = io.BytesIO(), io.BytesIO()
        control = vm.VmControl()
        records: list[str] = []
        control.on_record = lambda kind, _fields, seen=records: seen.append(kind)
        try:
            result = vm.run_vm(cfg, out, err, control=control)
        finally:
            control.close()
        which = f"LWJVM_MUTANT_SEED={MUTANT_SEED} case {i}: {(conf or b'(no file)')[:300]!r}"
        text = err.getvalue().decode(errors="replace")
        code = result.exit_code
        assert code not in NEVER, f"{which}: exit {code}\n{text}"
        assert code in (0, 125, 126, 127), f"{which}: exit {code}\n{text}"
        if code == 0:
            assert out.getvalue() == b"Hello from lwjvm!\n" and "error" not in records, which
        else:  # the reason, then the error record (protocol section 4)
            assert records[-2:] == ["error", "exit"], f"{which}: {records}\n{text}"
            reason = [ln for ln in text.splitlines() if ln.startswith("lwjvm: ")][-1:]
            want = bootconf.PATH if code == 125 else "lwjvm: cannot start "
            assert reason and want in reason[0], f"{which}: exit {code}\n{text}"
        seen[code] = seen.get(code, 0) + 1
        subprocess.run(["rm", "-rf", str(stage)], check=True)
    if MUTANTS >= 24:
        assert 0 in seen and 125 in seen, seen  # the mutants reach both sides of the parser
