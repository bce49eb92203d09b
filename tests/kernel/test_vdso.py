"""The kernel's vDSO image run in a host process (tests/kernel/vdso_test.c): glibc-style lookup of
its functions through DT_HASH, the clocks it computes from rdtsc and a [vvar] page we fill, and
the fallback to the real syscall for the clocks it does not serve."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CFLAGS = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'kernel'}"]


def _vdso_image() -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "kernel"), "build/vdso/vdso.so"], check=True)
    return ROOT / "kernel/build/vdso/vdso.so"


def test_vdso_computes_clocks_from_the_time_base_and_falls_back_to_syscalls(
    tmp_path: Path,
) -> None:
    exe = tmp_path / "vdso_test"
    subprocess.run(
        ["gcc", *CFLAGS, str(ROOT / "tests/kernel/vdso_test.c"), "-o", str(exe)], check=True
    )
    r = subprocess.run([str(exe), str(_vdso_image())], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stdout + r.stderr


def test_vdso_needs_no_loader_and_versions_its_symbols_like_linux() -> None:
    image = _vdso_image()
    relocs = subprocess.run(["readelf", "-r", str(image)], capture_output=True, text=True).stdout
    assert "There are no relocations" in relocs
    syms = subprocess.run(
        ["readelf", "-W", "--dyn-syms", str(image)], capture_output=True, text=True
    )
    for name in ("clock_gettime", "gettimeofday", "time", "getcpu", "clock_getres"):
        assert f"__vdso_{name}@@LINUX_2.6" in syms.stdout
    dyn = subprocess.run(["readelf", "-W", "-d", "-l", str(image)], capture_output=True, text=True)
    assert "(HASH)" in dyn.stdout and "(GNU_HASH)" in dyn.stdout
    assert "linux-vdso.so.1" in dyn.stdout
    # glibc writes into a writable PT_DYNAMIC; ours must be read-only (mapped r-x).
    dynamic = [ln for ln in dyn.stdout.splitlines() if ln.strip().startswith("DYNAMIC")]
    assert dynamic and " R " in dynamic[0] and " RW" not in dynamic[0]
