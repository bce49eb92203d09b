"""`lwjvm exec` lays programs out as Linux runs them (README.md, `lwjvm exec`): the program at its
own path, exec given the path as typed and the working directory the host's, so argv[0], AT_EXECFN,
/proc/self/exe, open(argv[0]) and getcwd agree with the host; the libraries `--add`ed ELF files need
come along; an `--add` under /lib (a symlink on the host) lands through the image's own /lib link;
an `--add` under /tmp is seen (the kernel seeds its tmpfs from the image); the default memory runs
a program that touches 256 MiB. Each program runs on the host first, in a scratch directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

from guest_harness import GuestRunner

SELF = r"""
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
int main(int argc, char **argv) {
    (void)argc;
    char exe[4096] = "", cwd[4096] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) exe[n] = 0;
    if (!getcwd(cwd, sizeof cwd)) return 2;
    FILE *f = fopen(argv[0], "rb");
    char magic[4] = {0};
    int elf = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "\x7f" "ELF", 4);
    if (f) fclose(f);
    printf("argv0=%s\nexecfn=%s\nexe=%s\ncwd=%s\nopen_argv0=%s\n",
           argv[0], (char *)getauxval(AT_EXECFN), exe, cwd, elf ? "elf" : "fail");
    return 0;
}
"""

PLUGIN = r"""
const char *zlibVersion(void);
const char *plugin_zlib(void) { return zlibVersion(); }
"""

LOADER = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
    const char *(*f)(void) = (const char *(*)(void))dlsym(h, "plugin_zlib");
    printf("zlib %s\n", f ? f() : "?");
    return 0;
}
"""

TOUCH = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    size_t n = 256u << 20;
    unsigned char *p = malloc(n);
    if (!p) { printf("malloc failed\n"); return 1; }
    memset(p, 0x5a, n);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i += 4096) sum += p[i];
    printf("touched %zu MiB, sum %lu\n", n >> 20, sum);
    return 0;
}
"""

APPEND = r"""
#include <stdio.h>
static void cat(const char *p) {
    FILE *f = fopen(p, "r");
    int c;
    if (!f) { printf("open %s failed\n", p); return; }
    while ((c = fgetc(f)) != EOF) putchar(c);
    fclose(f);
}
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    cat(argv[1]);
    FILE *f = fopen(argv[1], "a");
    if (!f || fputs("more\n", f) < 0) { printf("append failed\n"); return 1; }
    fclose(f);
    cat(argv[1]);
    return 0;
}
"""

SPAWN = r"""
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
extern char **environ;
int main(void) {
    pid_t pid;
    char *argv[] = {"true", 0};
    int e = posix_spawn(&pid, "/bin/true", 0, 0, argv, environ);
    if (e) { printf("posix_spawn: %s\n", strerror(e)); return 1; }
    waitpid(pid, 0, 0);
    printf("spawned\n");
    return 0;
}
"""

ZLIB = "/lib/x86_64-linux-gnu/libz.so.1"


def _cc(tmp: Path, name: str, src: str, *extra: str) -> Path:
    c = tmp / f"{name}.c"
    c.write_text(src)
    out = tmp / name
    subprocess.run(["gcc", "-O2", "-o", str(out), str(c), *extra], check=True)
    return out


def _exec(guest: GuestRunner, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "120", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_program_path_execfn_exe_and_cwd_are_as_on_linux(
    guest: GuestRunner, tmp_path: Path
) -> None:
    _cc(tmp_path, "selfread", SELF)
    host = subprocess.run(["./selfread"], capture_output=True, text=True, cwd=tmp_path)
    assert host.returncode == 0 and "open_argv0=elf" in host.stdout
    r = _exec(guest, tmp_path, "./selfread")
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr
    # By absolute path, and with another working directory.
    (tmp_path / "elsewhere").mkdir()
    prog = str(tmp_path / "selfread")
    host = subprocess.run([prog], capture_output=True, text=True, cwd=tmp_path / "elsewhere")
    r = _exec(guest, tmp_path / "elsewhere", prog)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr
    r = _exec(guest, tmp_path, "--workdir", "/srv/app", prog)
    assert "cwd=/srv/app\n" in r.stdout, r.stderr


def test_added_library_under_lib_comes_with_the_libraries_it_needs(
    guest: GuestRunner, tmp_path: Path
) -> None:
    """/lib is a symlink to usr/lib on the host: the --add lands through the image's /lib link,
    and libz, which the added plugin needs, is brought in although the program does not link it."""
    plugin = _cc(tmp_path, "plugin.so", PLUGIN, "-shared", "-fPIC", ZLIB)
    _cc(tmp_path, "loader", LOADER, "-ldl")
    host = subprocess.run(["./loader", str(plugin)], capture_output=True, text=True, cwd=tmp_path)
    assert host.returncode == 0 and host.stdout.startswith("zlib "), host.stdout
    target = "/lib/x86_64-linux-gnu/lwjvm-test-plugin.so"
    r = _exec(guest, tmp_path, "--add", f"{plugin}:{target}", "./loader", target)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr


def test_files_added_under_tmp_are_seen_and_writable(guest: GuestRunner, tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("from the host\n")
    _cc(tmp_path, "append", APPEND)
    host = subprocess.run(["./append", str(data)], capture_output=True, text=True, cwd=tmp_path)
    assert host.stdout == "from the host\nfrom the host\nmore\n"
    data.write_text("from the host\n")
    guest_path = "/tmp/lwjvm-added/data.txt"
    r = _exec(guest, tmp_path, "--add", f"{data}:{guest_path}", "./append", guest_path)
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr


def test_an_add_under_proc_is_warned_about(guest: GuestRunner, tmp_path: Path) -> None:
    data = tmp_path / "x"
    data.write_text("x")
    r = _exec(guest, tmp_path, "--add", f"{data}:/proc/x", "/bin/true")
    assert r.returncode == 0, r.stderr
    assert "lwjvm: warning: --add" in r.stderr and "mounts /proc over it" in r.stderr


def test_a_program_that_spawns_is_told_why_it_failed(guest: GuestRunner, tmp_path: Path) -> None:
    """posix_spawn fails with EPERM in the guest (one process per VM), and lwjvm says why."""
    _cc(tmp_path, "spawn", SPAWN)
    r = _exec(guest, tmp_path, "./spawn")
    assert (r.returncode, r.stdout) == (1, "posix_spawn: Operation not permitted\n"), r.stderr
    said = "lwjvm: the program exited with 1 after it tried to start a process (clone (flags 0x"
    assert said in r.stderr, r.stderr


def test_default_memory_runs_a_program_touching_256_mib(guest: GuestRunner, tmp_path: Path) -> None:
    _cc(tmp_path, "touch", TOUCH)
    host = subprocess.run(["./touch"], capture_output=True, text=True, cwd=tmp_path)
    assert host.returncode == 0
    r = _exec(guest, tmp_path, "./touch")
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr


TEXTBUSY = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static const char *e(int rc) { return rc < 0 ? strerrorname_np(errno) : "ok"; }
int main(void) {
    printf("write=%s\n", e(open("/proc/self/exe", O_WRONLY)));
    printf("rdwr=%s\n", e(open("/proc/self/exe", O_RDWR)));
    printf("trunc=%s\n", e(open("/proc/self/exe", O_RDONLY | O_TRUNC)));
    printf("truncate=%s\n", e(truncate("/proc/self/exe", 0)));
    printf("read=%s\n", e(open("/proc/self/exe", O_RDONLY)));
    return 0;
}
"""


def test_the_running_program_is_text_busy(guest: GuestRunner, tmp_path: Path) -> None:
    """Under /tmp the program's file is on a writable tmpfs in the guest (as on the host): writing
    or truncating it is ETXTBSY, as Linux's exec makes it (the syscall fuzzer, run from /tmp,
    truncated itself and died of SIGBUS before)."""
    _cc(tmp_path, "textbusy", TEXTBUSY)
    host = subprocess.run(["./textbusy"], capture_output=True, text=True, cwd=tmp_path)
    assert host.stdout == "write=ETXTBSY\nrdwr=ETXTBSY\ntrunc=ETXTBSY\ntruncate=ETXTBSY\nread=ok\n"
    r = _exec(guest, tmp_path, "./textbusy")
    assert (r.returncode, r.stdout) == (0, host.stdout), r.stderr
