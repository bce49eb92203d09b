"""How the guest kernel reports its own failures and fatal faults in the program, as documented in
docs/protocol.md (section 5): a panic gives exit code 123 with the panic text and a symbolised
backtrace on stderr; a program killed by a signal exits 128+signo with the faulting context."""

from __future__ import annotations

import subprocess
from pathlib import Path

from guest_harness import GuestRunner


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
    from lwjvm import bootconf, vm
    from lwjvm.image import Staging, build_image

    staging = Staging(tmp_path / "stage")
    staging.stage_file(corpus / "hello-static", "/bin/hello")
    conf = bootconf.BootConfig.make("/bin/hello", ["hello"])
    staging.stage_bytes(conf.render(), bootconf.PATH)
    image = tmp_path / "root.img"
    build_image(tmp_path / "stage", image)
    out = tmp_path / "out"
    cmd = [
        vm.find_qemu(), "-M", "microvm", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-m", "64M", *vm.accel_args("tcg"), "-kernel", str(vm.find_kernel()),
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
    import random
    import struct

    orig = (corpus / "hello-static").read_bytes()
    phoff = struct.unpack_from("<Q", orig, 32)[0]
    rng = random.Random(15)
    specials = [0, 1, 0x7F, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFFFF000, 0x800000000000,
                0xFFFF800000000000, 0xFFFFFFFFFFFFFFFF]  # fmt: skip
    for i in range(24):
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
        assert r.returncode not in (122, 123, 124), f"mutant {i}: {r.returncode}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 125:
            assert r.stderr.startswith("lwjvm: error: ") and r.stderr.count("\n") == 1, r.stderr
        if r.returncode == 126:
            assert f"lwjvm: cannot start {exe}: ENOEXEC" in r.stderr, r.stderr
