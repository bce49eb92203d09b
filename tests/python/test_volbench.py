"""The pure parts of `make bench`'s volume part (lwjvm/volbench.py) and the Linux guest's disk
options: reading bench/volume.c's line, the report's rows, the QEMU command line. No VM boots
here, and no timing is asserted."""

from __future__ import annotations

from pathlib import Path

from lwjvm import baseline, linuxguest, qemu, volbench

LWJVM_LINE = (
    "seq_write_MBps 5.6 seq_read_MBps 8.3 fsync_4k_writes_per_s 225 creates_per_s 310 "
    "reread_MBps 36.7 arc_reread_hit_percent 100.0\n"
)
# On the Linux guest the program's line shares the console with the kernel's and /init's.
LINUX_OUTPUT = (
    "[    0.000000] Linux version 6.1.0\nlinux-init: volume /dev/vdb on /data\n"
    "seq_write_MBps 13.9 seq_read_MBps 81.1 fsync_4k_writes_per_s 61 creates_per_s 2272 "
    "reread_MBps 188.7\nlinux-init: exit 0\n"
)


def test_parse_reads_each_figure() -> None:
    got = volbench.parse(LWJVM_LINE)
    assert got["seq_write_MBps"] == 5.6
    assert got["arc_reread_hit_percent"] == 100.0
    assert set(got) == set(volbench.FIGURES)
    linux = volbench.parse(LINUX_OUTPUT)
    assert linux["creates_per_s"] == 2272 and "arc_reread_hit_percent" not in linux
    assert volbench.parse("linux-init: start\n") == {}


def test_rows_give_ratios_with_lwjvm_above_one_when_better() -> None:
    def one(v: float) -> dict[str, float]:
        return {"median": v, "min": v, "max": v, "n": 1}

    figures = {
        "lwjvm": {k: one(v) for k, v in volbench.parse(LWJVM_LINE).items()},
        "linux": {k: one(v) for k, v in volbench.parse(LINUX_OUTPUT).items()},
        "host": {},
    }
    snap = {k: one(2.0) for k in ("open_ms", "op_ms", "tool_wall_ms", "cli_wall_ms")}
    res = {"figures": figures, "failed_runs": {"linux": 1}, "snapshot": {"ms": snap}}
    rows = {r[0]: r for r in volbench.rows(res)}
    fsync = rows["volume: 4 KiB random writes, each fsync'd"]
    assert fsync[3] == f"{225 / 61:.2f}x"
    assert rows["volume:   ARC hit rate over those re-reads (lwjvm)"][2] == "n/a"
    assert any("the operation" in r for r in rows)
    assert volbench.notes(res) == ["volume: linux: 1 run(s) failed (left out of its figures)"]
    text = baseline.report({"volume": res})
    assert "creates of empty files" in text and "volume: linux: 1 run(s) failed" in text


def test_linux_guest_gets_the_volume_with_lwjvms_drive_options(tmp_path: Path) -> None:
    kernel = linuxguest.Kernel(tmp_path / "vmlinuz", tmp_path, "6.1", "linux-image.deb")
    guest = linuxguest.Guest(kernel, tmp_path / "initramfs", ("console=ttyS0",))
    vol = tmp_path / "ext4.img"
    cmd = linuxguest.qemu_command(guest, tmp_path / "root.img", 256, "tcg", None,
                                  disks=(vol,), extra_cmdline=("lwjvm.volume=/data",))  # fmt: skip
    line = " ".join(cmd)
    assert " ".join(qemu.disk_args([vol])) in line
    assert cmd[cmd.index("-append") + 1] == "console=ttyS0 lwjvm.volume=/data"
    # The root image stays the first disk (/dev/vda), the volume /dev/vdb.
    assert line.index("id=root") < line.index("id=disk0")
