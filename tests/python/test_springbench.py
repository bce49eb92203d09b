"""The pure parts of `make bench`'s Spring Boot part (lwjvm/springbench.py): the report's rows and
notes from a result, and the Started line it reads. No VM boots here, and no timing is asserted."""

from __future__ import annotations

from typing import Any

from lwjvm import springbench


def _s(*values: float) -> dict[str, float]:
    return {"median": sorted(values)[len(values) // 2], "min": min(values), "max": max(values),
            "n": len(values)}  # fmt: skip


def _result() -> dict[str, Any]:
    side = {"started": _s(40.0, 44.0), "http": _s(50.0, 52.0), "spring_says": _s(30.0, 31.0),
            "started_cpu": _s(20.0, 22.0), "http_cpu": _s(25.0, 26.0)}  # fmt: skip
    slower = {"started": _s(80.0), "http": _s(100.0), "spring_says": _s(60.0),
              "started_cpu": _s(33.0), "http_cpu": None}  # fmt: skip
    host = {"started": _s(2.0, 2.1, 2.2), "http": _s(2.3, 2.4, 2.5), "spring_says": _s(1.5)}
    return {
        "boots": 2, "host_runs": 3, "jvm_options": ["-XX:TieredStopAtLevel=1"], "cds_classes": 5860,
        "guest": {"archive": {"lwjvm": side, "linux": slower}, "no archive": {"lwjvm": slower}},
        "host": {"archive": host, "no archive": host, "java -jar": host},
        "failures": {"linux, no archive": "no Started line: boom"},
    }  # fmt: skip


def test_rows_give_each_side_and_the_ratio_above_one_when_lwjvm_is_sooner() -> None:
    rows = {r[0]: r[1:] for r in springbench.rows(_result())}
    started = rows["Spring Boot, archive: start to 'Started' line"]
    assert started == ("44.0 s [40.0-44.0]", "80.0 s", "1.82x", "2.1 s [2.0-2.2]")
    http = rows["Spring Boot, archive: start to first 200 (health)"]
    assert http[2] == f"{100.0 / 52.0:.2f}x"
    # A side that failed in every boot has no figure and no ratio.
    assert rows["Spring Boot, no archive: start to 'Started' line"][1:3] == ("n/a", "n/a")
    assert rows["Spring Boot, host java -jar: Started / first 200"][3].startswith("2.1 s")
    # QEMU's CPU time (load hardly moves it), with its ratio; none where a side has no figure.
    assert rows["  QEMU CPU time to 'Started', archive"] == ("22.0 s [20.0-22.0]", "33.0 s",
                                                             "1.50x", "-")  # fmt: skip
    assert rows["  QEMU CPU time to first 200, archive"][1:3] == ("n/a", "n/a")


def test_notes_name_failures_and_the_settings() -> None:
    notes = springbench.notes(_result())
    assert "spring: linux, no archive: no Started line: boom" in notes
    assert any("['-XX:TieredStopAtLevel=1']" in n and "5860 classes" in n for n in notes)


def test_started_pattern_reads_springs_own_figure() -> None:
    line = (
        b"2026-12-06T07:30:42.300Z  INFO 1 --- [main] d.l.s.boot.SampleApplication : "
        b"Started SampleApplication in 346.958 seconds (process running for 387.593)\n"
    )
    m = springbench.STARTED.search(line)
    assert m is not None and float(m.group(1)) == 346.958
