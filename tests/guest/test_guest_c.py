"""The guest C corpus (tests/guest/c/): every program runs on the host, where it must pass (that
proves the test itself right), and in the guest under `lwjvm exec`, where its stdout and exit code
must equal the host's byte for byte: once on 1 virtual CPU and once on 2 (the test ids end in
`-1cpu` and `-2cpu`; LWJVM_GUEST_CPUS=4 runs them on 4 instead, as `make soak` does).

Which programs the kernel is expected to run today is listed in one place,
tests/guest/c/GUEST_READY; the others are skipped in the guest with the reason "kernel support
pending (issue 4)". LWJVM_GUEST_ALL=1 runs them all in the guest anyway.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guest_harness import (
    GUEST_CPU_COUNTS,
    PENDING_REASON,
    RUN_ALL_IN_GUEST,
    Case,
    GuestRunner,
    corpus_programs,
    describe_mismatch,
    read_guest_ready,
    run_on_host,
)


def text_file() -> bytes:
    """About 20 KiB of numbered lines: several blocks, a known first line."""
    return b"".join(
        b"line %05d: the quick brown fox jumps over the lazy dog %d\n" % (i, i * i % 97)
        for i in range(300)
    )


def paged_file() -> bytes:
    """Three pages and 123 bytes, every byte a function of its offset (the page number shows)."""
    return bytes(((i * 7) ^ (i >> 12) * 0x45) & 0xFF for i in range(3 * 4096 + 123))


def both_links(base: str, **kw: object) -> list[Case]:
    """The same case for the static non-PIE and the static-PIE build of `base`."""
    return [Case(program=f"{base}-{link}", **kw) for link in ("static", "static-pie")]


ISSUE3_CASES = [
    *both_links("hello"),
    *[
        c
        for code in (0, 1, 42, 255)
        for c in both_links("exit_code", args=(str(code),), exit_code=code, name=f"exit{code}")
    ],
    *both_links(
        "argv_env",
        args=("one", "two words", "", "tab\there", "new\nline", "back\\slash", "caf\u00e9"),
        env=(("HOME", "/"), ("EMPTY", ""), ("GREETING", "hello world"), ("EQ", "a=b=c")),
    ),
    *both_links("read_file", args=("{data:input.txt}",), files={"input.txt": text_file}),
    *both_links("mmap_anon"),
    Case("mmap_anon-static", name="hugepages", kernel_args=("lwjvm.hugepages=1",)),
    *both_links("efault"),
    *both_links("sys_basics"),
]

ISSUE4_CASES = [
    Case("dyn_hello"),
    Case("threads_sync"),
    Case("threads_spin"),
    Case("threads_many"),
    Case("threads_fpu"),
    Case("signal_segv"),
    Case("signal_altstack"),
    Case("signal_info"),
    Case("signal_frame"),
    Case("signal_wait"),
    Case("signal_queue_limit"),
    Case("signal_sigqueue"),
    *[
        Case("exit_paths", args=(mode,), exit_code=code, name=mode)
        for mode, code in (
            ("segv", 128 + 11),
            ("abort", 128 + 6),
            ("kill9", 128 + 9),
            ("thread_exit", 7),
            ("main_return", 3),
            ("main_pthread_exit", 0),
        )
    ],
    Case("mm_reserve"),
    Case("mm_ops"),
    # 2 MiB pages are off under TCG by default (kernel/mm/fault.c says why): force them on, so that
    # mapping, splitting (partial munmap, mprotect, madvise, mremap) and freeing them run here too.
    Case("mm_reserve", name="hugepages", kernel_args=("lwjvm.hugepages=1",)),
    Case("mm_ops", name="hugepages", kernel_args=("lwjvm.hugepages=1",)),
    Case("mm_file", args=("{data:paged.bin}",), files={"paged.bin": paged_file}),
    Case("tmpfs_files"),
    Case("inotify_events", name="events"),
    Case("inotify_events", args=("poll",), name="poll"),
    Case("fd_pipe"),
    Case("pipe_limits"),
    Case("proc_maps", args=("{data:paged.bin}",), files={"paged.bin": paged_file}),
    Case("proc_files"),
    Case("fs_mounts", args=("hello",)),
    Case("fs_edge_cases"),
    Case("clocks"),
    Case("futex_ops"),
    Case("process_info"),
    Case("time_vdso"),
    Case("timers"),
    Case("jvm_surface"),
    Case("wall_clock", args=("{host_time}",)),
]

# issue 15: regressions the syscall fuzzer (tests/guest/c/fuzz/sysfuzz.c) found, each a small
# program that also runs on the host as the oracle.
REGRESSION_CASES = [
    Case("regress_sigreturn_rip", exit_code=128 + 11),
    Case("regress_close_during_read"),
    *both_links("regress_brk_huge"),
    Case("regress_epoll_rw"),
    Case("regress_affinity_move"),  # found reading the scheduler; it matters on 2 CPUs
    Case("regress_huge_range"),  # found reading seed 9101's TLB shootdown timeout
    Case("madvise_advice"),
]

# issue 9: sockets and readiness (loopback only: both ends in the program, ephemeral ports,
# nothing printed that differs between two runs)
ISSUE9_CASES = [
    Case("net_tcp"),
    Case("net_udp"),
    Case("net_sendfile"),
    Case("poll_epoll"),
    Case("net_poll"),
    Case("net_unix"),
    Case("net_ifaces"),
    Case("net_leak", args=("10000",), timeout_s=300),
]

# issue 12: races on purpose between CPUs (the same checks hold on one)
SMP_CASES = [Case("smp_race", timeout_s=240), Case("smp_xmodify", args=("3",))]

CASES = ISSUE3_CASES + ISSUE4_CASES + ISSUE9_CASES + REGRESSION_CASES + SMP_CASES
GUEST_READY = read_guest_ready()


def _guest_params() -> list[object]:
    return [
        pytest.param(
            c,
            cpus,
            id=f"{c.id}-{cpus}cpu",
            marks=()
            if c.program in GUEST_READY or c.id in GUEST_READY or RUN_ALL_IN_GUEST
            else pytest.mark.skip(reason=PENDING_REASON),
        )
        for c in CASES
        for cpus in GUEST_CPU_COUNTS
    ]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_program_passes_on_host(case: Case, corpus: Path, tmp_path: Path) -> None:
    out = run_on_host(case, corpus, tmp_path)
    text = out.stdout.decode(errors="replace")
    assert out.exit_code == case.exit_code, f"exit code {out.exit_code}\n{text}{out.stderr!r}"
    assert "FAIL" not in text, text


@pytest.mark.parametrize(("case", "cpus"), _guest_params())
def test_guest_output_matches_host(
    case: Case, cpus: int, corpus: Path, tmp_path: Path, guest: GuestRunner
) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "guest").mkdir()
    host = run_on_host(case, corpus, tmp_path / "host")
    out = guest.run(case, corpus, tmp_path / "guest", cpus=cpus)
    assert (out.exit_code, out.stdout) == (host.exit_code, host.stdout), describe_mismatch(
        case, host, out, cpus
    )


def test_every_built_program_has_a_case() -> None:
    built = set(corpus_programs())
    covered = {c.program for c in CASES}
    assert built - covered == set(), "programs with no case in test_guest_c.py"
    assert covered - built == set(), "cases naming programs the Makefile does not build"


def test_guest_ready_names_only_known_programs_or_cases() -> None:
    unknown = GUEST_READY - set(corpus_programs()) - {c.id for c in CASES}
    assert unknown == set(), "unknown names in tests/guest/c/GUEST_READY"
