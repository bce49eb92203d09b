"""The pure parts of `make bench`'s SMP part (lwjvm/smpbench.py): reading the programs' output and
the report's rows. No VM boots here, and no timing is asserted."""

from __future__ import annotations

from lwjvm import baseline, smpbench

WORK_OUTPUT = """smp: cpus 2, 64 tasks of 6250000 iterations
smp: warm-up 2549877056
smp: round 1 ms 2973
smp: round 2 ms 1539
smp: busy % cpu0 97 cpu1 88
smp: result 50999338144
"""

# On the Linux guest the program's lines share the console with the kernel's and /init's.
LINUX_PINGPONG = """[    0.000000] Linux version 6.1.0
linux-init: start
linux-init: exec /bench/pingpong
pingpong: round 1 round_trips_per_s 2532
pingpong: round 2 round_trips_per_s 3001
pingpong: ok
linux-init: exit 0
"""


def test_work_rounds_reads_round_times_and_result() -> None:
    rounds, result = smpbench.work_rounds(WORK_OUTPUT)
    assert rounds == [2.973, 1.539]
    assert result == 50999338144
    assert smpbench.work_rounds("smp: cpus 1\n") == ([], None)
    assert smpbench.busy_percent(WORK_OUTPUT) == [97, 88]
    assert smpbench.busy_percent("smp: cpus 1\n") is None


def test_pingpong_rates_among_console_lines() -> None:
    assert smpbench.pingpong_rates(LINUX_PINGPONG) == [2532.0, 3001.0]


def test_mprotect_costs() -> None:
    text = "mprotect: round 1 us 4.25\nmprotect: round 2 us 173.30\n"
    assert smpbench.mprotect_costs(text) == [4.25, 173.3]


def _s(median: float) -> dict[str, float]:
    return {"median": median, "min": median * 0.9, "max": median * 1.1, "n": 2}


def test_report_rows_give_speedups_and_ratios() -> None:
    smp = {
        "work": {
            "round_seconds": {
                "lwjvm": {"1": _s(10.0), "2": _s(5.5)},
                "linux": {"1": _s(12.0), "2": None},
            },
            "speedup": {"lwjvm": 10.0 / 5.5, "linux": None},
            "busy_percent": {"lwjvm": {"1": [[99]], "2": [[90, 80], [94, 70]]}, "linux": {}},
            "host_round_seconds": _s(0.5),
            "failed_runs": {"linux": 2},
        },
        "pingpong": {
            "round_trips_per_s": {"lwjvm": _s(3000.0), "linux": _s(2000.0), "host": _s(9e4)},
            "failed_runs": {},
        },
        "mprotect": {
            "us_per_call": {
                "lwjvm": {"1": _s(4.0), "2": _s(150.0)},
                "linux": {"1": _s(12.0), "2": _s(15.0)},
            },
            "failed_runs": {"lwjvm": 1},
        },
    }
    rows = {r[0]: r[1:] for r in smpbench.rows(smp)}
    assert rows["SmpWork round, 1 CPU"][2] == "1.20x"  # Linux's time over lwjvm's
    assert rows["SmpWork round, 2 CPU"][1:3] == ("n/a", "n/a")
    assert rows["  speedup, 1 -> 2 CPUs (target 1.7x)"][:2] == ("1.82x", "n/a")
    assert rows["  CPUs busy in the 2-CPU rounds (/proc/stat)"][:2] == ("92/75 %", "n/a")
    assert rows["futex ping-pong across 2 CPUs, round trips/s"][2] == "1.50x"
    assert rows["mprotect of a written page, 1 CPU"][2] == "3.00x"
    assert rows["mprotect of a written page, 2 CPUs, the others idle"][2] == "0.10x"
    assert smpbench.notes(smp) == [
        "smp work: linux: 2 run(s) failed (left out of its figures)",
        "smp mprotect: lwjvm: 1 run(s) failed (left out of its figures)",
    ]
    text = baseline.report({"smp": smp, "linux_boots": 9, "linux_hung": 1})
    assert "futex ping-pong" in text
    assert "of which hung before /init (killed and retried): 1" in text
