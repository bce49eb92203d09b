"""The `lwjvm` command line: thin click commands over the library modules.

Every command turns an `LwjvmError` into one line on stderr and its exit code; a traceback is shown
only with `--verbose`. Commands return their exit code through `ctx.exit`.
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from lwjvm import __version__
from lwjvm.errors import EXIT_USAGE, LwjvmError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lwjvm")
@click.option("-v", "--verbose", is_flag=True, help="Show details and tracebacks on errors.")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LWJVM_STATE_DIR",
    help="Where deployed VMs are kept (default: $XDG_STATE_HOME/lwjvm).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, state_dir: Path | None) -> None:
    """Run a Java application on its own tiny kernel in a microVM."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["state_dir"] = state_dir


def _state_root(ctx: click.Context) -> Path:
    from lwjvm.state import default_root

    given = ctx.obj.get("state_dir") if ctx.obj else None
    return Path(given).absolute() if given else default_root()


def _vm(ctx: click.Context, name: str) -> Any:
    from lwjvm.state import VmDir

    d = VmDir(_state_root(ctx), name)
    if not d.path.is_dir():
        from lwjvm.errors import LwjvmError

        raise LwjvmError(f"no VM named {name} (see lwjvm ps -a)")
    return d


def _say(text: str) -> None:
    click.echo(text, err=True)


# A manifest's jar, class path and files must resolve inside its directory unless the user names
# the places outside it they may come from (docs/build.md, "Hostile manifests").
allow_outside_option = click.option(
    "--allow-outside", "allow_outside", multiple=True, metavar="PATH",
    type=click.Path(path_type=Path),
    help="Let the manifest's jar, class path and files come from PATH (a directory or a file) "
    "outside the manifest's directory (repeat).",
)  # fmt: skip


@cli.command(
    "exec",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--memory", default="1G", show_default=True, help="Guest memory (e.g. 128M, 1G).")
@click.option("--trace-syscalls", is_flag=True, help="Print every system call (kernel log).")
@click.option(
    "--workdir", metavar="DIR", help="Working directory in the guest (default: the current one)."
)
@click.option("--accel", type=click.Choice(["kvm", "tcg"]), help="Force an accelerator.")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Set a variable (repeat).")
@click.option("--add", "adds", multiple=True, metavar="HOST:GUEST", help="Add a file or tree.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Kill the guest after this long.")
@click.option(
    "--kernel-arg", "kernel_args", multiple=True, metavar="WORD", help="Add a kernel command word."
)
@click.option(
    "-p", "--publish", "ports", multiple=True, metavar="[ADDR:]HOST:GUEST",
    help="Forward a host port into the guest (repeat); gives the VM a network device.",
)  # fmt: skip
@click.option(
    "--machine", type=click.Choice(["microvm", "q35"]), default="microvm", show_default=True,
    help="QEMU machine type (q35: the PCI machine libvirt and KubeVirt run).",
)  # fmt: skip
@click.option(
    "--disk", "disks", multiple=True, metavar="FILE",
    help="Attach a raw disk file as virtio-blk (the first is /dev/vda in the guest).",
)  # fmt: skip
@click.option(
    "--cpus", type=click.IntRange(1, 16), default=1, show_default=True,
    help="Virtual CPUs; the program's threads run on all of them.",
)  # fmt: skip
@click.argument("program")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(
    ctx: click.Context,
    memory: str,
    trace_syscalls: bool,
    workdir: str | None,
    accel: str | None,
    env: tuple[str, ...],
    adds: tuple[str, ...],
    timeout: float | None,
    kernel_args: tuple[str, ...],
    ports: tuple[str, ...],
    machine: str,
    disks: tuple[str, ...],
    cpus: int,
    program: str,
    args: tuple[str, ...],
) -> None:
    """Run a Linux x86_64 PROGRAM with ARGS in the guest; exit with its exit code.

    The program is at its own path, sees argv[0] as typed, exactly the --env variables (no
    others), and the current directory (or --workdir) as its working directory.
    """
    from lwjvm.program import ExecRequest, exec_program

    req = ExecRequest(
        program=program,
        args=list(args),
        env=list(env),
        adds=list(adds),
        memory=memory,
        trace_syscalls=trace_syscalls,
        workdir=workdir,
        accel=accel,
        timeout=timeout,
        verbose=bool(ctx.obj and ctx.obj.get("verbose")),
        kernel_args=list(kernel_args),
        ports=list(ports),
        machine=machine,
        disks=list(disks),
        cpus=cpus,
    )
    result = exec_program(req)
    if result.cause:
        click.echo(f"lwjvm: {result.cause}", err=True)
    ctx.exit(result.exit_code)


@cli.command("run")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build directory (default: build/NAME).",
)
@click.option(
    "--memory", metavar="SIZE", help="Boot with this much memory instead of vm.memory (e.g. 64M)."
)
@click.option(
    "--cpus", type=click.IntRange(1, 16), help="Boot this many virtual CPUs instead of vm.cpus."
)
@click.option("--accel", type=click.Choice(["kvm", "tcg"]), help="Force an accelerator.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Kill the guest after this long.")
@click.option(
    "--stop-timeout",
    type=float,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="After Ctrl-C or SIGTERM, how long the app gets to stop before the VM is killed.",
)
@click.option(
    "--kernel-arg", "kernel_args", multiple=True, metavar="WORD", help="Add a kernel command word."
)
@click.option(
    "-p",
    "--publish",
    "ports",
    multiple=True,
    metavar="[ADDR:]HOST:GUEST",
    help="Forward host port HOST (on 127.0.0.1 unless ADDR) to GUEST in the VM (repeat).",
)
@click.option(
    "--debug",
    type=int,
    is_flag=False,
    flag_value=5005,
    default=None,
    metavar="[PORT]",
    help="Start the JVM's JDWP agent (suspend=n) on PORT (default 5005), forwarded from "
    "127.0.0.1:PORT.",
)
@click.option(
    "--jmx",
    type=int,
    is_flag=False,
    flag_value=9010,
    default=None,
    metavar="[PORT]",
    help="Start the JVM's JMX agent on PORT (default 9010; RMI on the same port, no "
    "authentication), forwarded from 127.0.0.1:PORT.",
)
@click.option("-q", "--quiet", is_flag=True, help="No build progress or image status lines.")
@click.option("--verbose", "run_verbose", is_flag=True, help="Show the kernel log.")
@allow_outside_option
@click.pass_context
def run_cmd(
    ctx: click.Context,
    manifest: Path,
    args: tuple[str, ...],
    output: Path | None,
    memory: str | None,
    cpus: int | None,
    accel: str | None,
    timeout: float | None,
    stop_timeout: float,
    kernel_args: tuple[str, ...],
    ports: tuple[str, ...],
    debug: int | None,
    jmx: int | None,
    quiet: bool,
    run_verbose: bool,
    allow_outside: tuple[Path, ...],
) -> None:
    """Run the app of MANIFEST on the kernel, in the foreground; exit with its exit code.

    Rebuilds the image first when the manifest, jars, JDK or kernel changed. ARGS (after --)
    replace app.args. Ctrl-C or SIGTERM is passed to the app (its shutdown hooks run); a second
    Ctrl-C kills the VM at once.
    """
    from lwjvm.run import RunRequest, run_app

    req = RunRequest(
        manifest=manifest,
        args=list(args) if args else None,
        output=output,
        memory=memory,
        cpus=cpus,
        accel=accel,
        timeout=timeout,
        stop_timeout=stop_timeout,
        verbose=run_verbose or bool(ctx.obj and ctx.obj.get("verbose")),
        quiet=quiet,
        kernel_args=list(kernel_args),
        ports=list(ports),
        debug=debug,
        jmx=jmx,
        allow_outside=list(allow_outside),
    )
    result = run_app(req)
    if result.cause:
        click.echo(f"lwjvm: {result.cause}", err=True)
    ctx.exit(result.exit_code)


@cli.command("init")
@click.argument("jar", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("app.yaml"),
    show_default=True,
    help="Manifest to write.",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing manifest.")
def init_cmd(jar: Path, output: Path, force: bool) -> None:
    """Write a commented starting manifest for JAR (main class from its Main-Class)."""
    from lwjvm.manifest import init_build_command, init_manifest

    init_manifest(jar, output, force)
    click.echo(f"wrote {output}; build with: {init_build_command(jar, output)}")


@cli.command("build")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory (default: build/NAME).",
)
@click.option(
    "--kernel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Kernel to include (default: $LWJVM_KERNEL, then kernel/build/kernel.elf).",
)
@click.option("--no-kernel", is_flag=True, help="Build the root image only.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@allow_outside_option
def build_cmd(
    manifest: Path,
    output: Path | None,
    kernel: Path | None,
    no_kernel: bool,
    quiet: bool,
    allow_outside: tuple[Path, ...],
) -> None:
    """Build the bootable image described by MANIFEST (app.yaml)."""
    from lwjvm.build import Progress, build, default_output
    from lwjvm.manifest import load
    from lwjvm.vm import find_kernel

    m = load(manifest, allow_outside)
    if not no_kernel and kernel is None:
        kernel = find_kernel()
    out = output or default_output(m)
    if no_kernel or kernel is None:
        result = build(m, out, None, Progress(enabled=not quiet))
    else:
        from lwjvm.uptodate import build_recorded

        # Recorded, so `lwjvm run` of the same manifest finds the image up to date.
        result = build_recorded(m, out, kernel, Progress(enabled=not quiet))
    size = result.descriptor.root_img.size / (1 << 20)
    click.echo(f"{out}: root.img {size:.1f} MiB in {result.timings['total']:.1f}s")


@cli.command("inspect")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def inspect_cmd(ctx: click.Context, target: str, as_json: bool) -> None:
    """Show a deployed VM (its config, state history and exit causes) or what is in an image
    (a build directory, its image.json or its root.img). A path is an image; a name is a VM."""
    import json

    from lwjvm import inspect
    from lwjvm.errors import LwjvmError

    if Path(target).exists() or "/" in target:
        if not Path(target).exists():
            raise LwjvmError(f"{target}: no such image")
        info = inspect.load(Path(target))
        click.echo(json.dumps(info.to_json(), indent=2) if as_json else inspect.render(info))
        return
    from lwjvm import deploy

    info = deploy.inspect_vm(_vm(ctx, target))
    click.echo(json.dumps(info, indent=2) if as_json else deploy.render_inspect(info))


@cli.command("deploy")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="The VM's name (default: the manifest's name).")
@click.option(
    "-p",
    "--publish",
    "ports",
    multiple=True,
    metavar="[ADDR:]HOST:GUEST",
    help="Forward host port HOST (on 127.0.0.1 unless ADDR) to GUEST in the VM (repeat).",
)
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Set a variable (repeat).")
@click.option("--memory", metavar="SIZE", help="Boot with this much memory instead of vm.memory.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build directory (default: build/NAME).",
)
@click.option("--accel", type=click.Choice(["kvm", "tcg"]), help="Force an accelerator.")
@click.option(
    "--stop-timeout",
    type=float,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long the app gets to stop (lwjvm stop) before the VM is killed.",
)
@click.option(
    "--kernel-arg", "kernel_args", multiple=True, metavar="WORD", help="Add a kernel command word."
)
@click.option(
    "--debug",
    type=int,
    is_flag=False,
    flag_value=5005,
    default=None,
    metavar="[PORT]",
    help="Start the JVM's JDWP agent (suspend=n) on PORT (default 5005), forwarded from "
    "127.0.0.1:PORT.",
)
@click.option(
    "--jmx",
    type=int,
    is_flag=False,
    flag_value=9010,
    default=None,
    metavar="[PORT]",
    help="Start the JVM's JMX agent on PORT (default 9010; RMI on the same port, no "
    "authentication), forwarded from 127.0.0.1:PORT.",
)
@click.option("--no-wait", is_flag=True, help="Return once started; do not wait for health.")
@click.option("-q", "--quiet", is_flag=True, help="No build progress or image status lines.")
@allow_outside_option
@click.pass_context
def deploy_cmd(
    ctx: click.Context,
    manifest: Path,
    name: str | None,
    ports: tuple[str, ...],
    env: tuple[str, ...],
    memory: str | None,
    output: Path | None,
    accel: str | None,
    stop_timeout: float,
    kernel_args: tuple[str, ...],
    debug: int | None,
    jmx: int | None,
    no_wait: bool,
    quiet: bool,
    allow_outside: tuple[Path, ...],
) -> None:
    """Build MANIFEST's image if stale, start it detached, wait until it is healthy.

    Prints the VM's name and URLs and exits 0 once healthy; if it never becomes healthy, prints
    the cause and the last log lines, stops the VM and exits 1.
    """
    from lwjvm.deploy import DeployRequest, deploy

    req = DeployRequest(
        manifest=manifest,
        name=name,
        ports=list(ports),
        env=list(env),
        memory=memory,
        output=output,
        accel=accel,
        stop_timeout=stop_timeout,
        kernel_args=list(kernel_args),
        wait=not no_wait,
        quiet=quiet,
        debug=debug,
        jmx=jmx,
        allow_outside=list(allow_outside),
    )
    ctx.exit(deploy(req, _state_root(ctx), _say))


@cli.command("ps")
@click.option("-a", "--all", "all_", is_flag=True, help="Also VMs that are not running.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def ps_cmd(ctx: click.Context, all_: bool, as_json: bool) -> None:
    """List deployed VMs: name, image, state, ports, uptime, memory."""
    import json

    from lwjvm import deploy

    rows = deploy.ps_rows(_state_root(ctx), all_)
    click.echo(json.dumps(rows, indent=2) if as_json else deploy.ps_table(rows))


@cli.command("logs")
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the VM stops.")
@click.option("--tail", type=int, metavar="N", help="Only the last N lines.")
@click.option("--since", metavar="DURATION|TIME", help="Only lines since then (10m, or a time).")
@click.option("-t", "--timestamps", is_flag=True, help="Show each line's time.")
@click.pass_context
def logs_cmd(
    ctx: click.Context, name: str, follow: bool, tail: int | None, since: str | None,
    timestamps: bool,
) -> None:  # fmt: skip
    """Print a VM's output: the app's stdout on stdout, its stderr (and lwjvm's lines) on stderr."""
    from lwjvm import deploy

    try:
        deploy.logs(
            _vm(ctx, name), follow, tail, since, timestamps, sys.stdout.buffer, sys.stderr.buffer
        )
    except KeyboardInterrupt:
        pass


@cli.command("stop")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option(
    "-t", "--time", "timeout", type=float, metavar="SECONDS",
    help="How long the app gets to stop before it is killed (default: the deploy's).",
)  # fmt: skip
@click.pass_context
def stop_cmd(ctx: click.Context, names: tuple[str, ...], timeout: float | None) -> None:
    """Stop VMs gracefully: SIGTERM to the JVM (shutdown hooks run); killed after the timeout."""
    from lwjvm import deploy

    for name in names:
        deploy.stop(_vm(ctx, name), timeout, _say)


@cli.command("rm")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("-f", "--force", is_flag=True, help="Kill a running VM first.")
@click.pass_context
def rm_cmd(ctx: click.Context, names: tuple[str, ...], force: bool) -> None:
    """Remove stopped VMs: their record, logs and image copy."""
    from lwjvm import deploy

    for name in names:
        deploy.remove(_vm(ctx, name), force, click.echo)


@cli.group("volume")
def volume_group() -> None:
    """Data volumes: files in lwjvm's copy-on-write, checksummed format (docs/volume-format.md)."""


@volume_group.command("create")
@click.argument("name")
@click.option("--size", required=True, metavar="SIZE", help="Volume size, e.g. 64M or 1G.")
@click.pass_context
def volume_create_cmd(ctx: click.Context, name: str, size: str) -> None:
    """Create an empty volume NAME."""
    from lwjvm import volume

    path = volume.create(_state_root(ctx), name, volume.parse_size(size))
    _say(f"volume {name}: {volume.human(path.stat().st_size)} at {path}")


@volume_group.command("ls")
@click.pass_context
def volume_ls_cmd(ctx: click.Context) -> None:
    """List the volumes, each with its snapshots and clones.

    A volume's line: its size, the space in use in its file and its last committed transaction
    group. A snapshot's or clone's line: the space only it holds (what removing it frees), the
    space it refers to, and the transaction group it was made in.
    """
    from lwjvm import volume

    root = _state_root(ctx)
    click.echo(f"{'NAME':<32} {'SIZE':>8} {'USED':>8} {'REFER':>8} {'TXG':>8}")
    for v in volume.list_volumes(root):
        own = [d for d in volume.datasets(root, v.name) if d.name == v.name]
        refer = volume.human(own[0].refer) if own else "-"
        click.echo(
            f"{v.name:<32} {volume.human(v.size):>8} {volume.human(v.used):>8} {refer:>8} "
            f"{v.txg:>8}"
        )
        for d in volume.datasets(root, v.name):
            if d.name != v.name:
                click.echo(
                    f"{d.name:<32} {'-':>8} {volume.human(d.unique):>8} "
                    f"{volume.human(d.refer):>8} {d.txg:>8}"
                )


@volume_group.command("check")
@click.argument("name")
@click.option("--repair", is_flag=True, help="Rewrite bad copies from their good ditto copies.")
@click.pass_context
def volume_check_cmd(ctx: click.Context, name: str, repair: bool) -> None:
    """Verify the checksum of every copy of every block; exit 1 if the volume is not sound."""
    from lwjvm import volume

    r = volume.check(_state_root(ctx), name, repair)
    click.echo(
        f"{name}: txg {r.txg}, {r.blocks} block copies verified, {r.bad} bad, "
        f"{r.repaired} repaired, {r.unrecoverable} unrecoverable"
        + (f", {r.unmarked} in use but free in the space map" if r.unmarked else "")
        + (" (marked in use)" if r.unmarked and repair else "")
    )
    ctx.exit(0 if r.sound else 1)


@volume_group.command("rm")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.pass_context
def volume_rm_cmd(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Remove volumes (NAME) and their data, or snapshots (NAME@SNAP) and clones (NAME/CLONE)
    inside one, freeing what nothing else holds. A volume a VM uses is refused."""
    from lwjvm import volume

    for name in names:
        volume.remove(_state_root(ctx), name)


@volume_group.command("snapshot")
@click.argument("spec", metavar="NAME@SNAP")
@click.pass_context
def volume_snapshot_cmd(ctx: click.Context, spec: str) -> None:
    """Take snapshot SNAP of volume NAME (or of a clone, NAME/CLONE@SNAP): constant time,
    read-only, sharing every block with the volume until it changes."""
    from lwjvm import volume

    volume.snapshot(_state_root(ctx), spec)
    _say(f"snapshot {spec}")


@volume_group.command("rollback")
@click.argument("spec", metavar="NAME@SNAP")
@click.pass_context
def volume_rollback_cmd(ctx: click.Context, spec: str) -> None:
    """Make NAME what it was at its newest snapshot SNAP; what it wrote since is freed."""
    from lwjvm import volume

    volume.rollback(_state_root(ctx), spec)
    _say(f"{spec.partition('@')[0]} rolled back to {spec}")


@volume_group.command("clone")
@click.argument("spec", metavar="NAME@SNAP")
@click.argument("new", metavar="NAME/CLONE")
@click.pass_context
def volume_clone_cmd(ctx: click.Context, spec: str, new: str) -> None:
    """Make a writable clone of snapshot NAME@SNAP, in the same volume file (constant time).
    A manifest mounts it with `volumes: [{name: NAME/CLONE, ...}]`."""
    from lwjvm import volume

    volume.clone(_state_root(ctx), spec, new)
    _say(f"clone {new} of {spec}")


@volume_group.command("export")
@click.argument("spec", metavar="NAME[@SNAP]")
@click.argument("dest", metavar="DIR|-")
@click.pass_context
def volume_export_cmd(ctx: click.Context, spec: str, dest: str) -> None:
    """Copy the files of a volume, snapshot or clone into DIR (new or empty), or write them to
    stdout as a tar stream with -."""
    from lwjvm import volume

    n = volume.export(_state_root(ctx), spec, dest)
    if dest != "-":
        _say(f"{spec}: exported to {dest} ({n} files)")


@volume_group.command("mount")
@click.argument("spec", metavar="NAME[@SNAP]")
@click.argument("where", metavar="DIR")
@click.pass_context
def volume_mount_cmd(ctx: click.Context, spec: str, where: str) -> None:
    """Mount a volume, snapshot or clone read-only at DIR through FUSE, to look inside from the
    host (lwjvm volume umount DIR undoes it)."""
    from lwjvm import volume

    volume.mount(_state_root(ctx), spec, Path(where))
    _say(f"{spec} mounted read-only at {where}")


@volume_group.command("umount")
@click.argument("where", metavar="DIR")
def volume_umount_cmd(where: str) -> None:
    """Unmount what lwjvm volume mount mounted at DIR."""
    from lwjvm import volume

    volume.unmount(Path(where))


@volume_group.command("import")
@click.argument("spec", metavar="NAME")
@click.argument("src", metavar="DIR|-")
@click.option("--size", metavar="SIZE", help="Size of the volume if it is created (default 1G).")
@click.pass_context
def volume_import_cmd(ctx: click.Context, spec: str, src: str, size: str | None) -> None:
    """Copy directory DIR, or a tar stream on stdin with -, into volume NAME (or clone
    NAME/CLONE), creating the volume if it does not exist. Entries already there are replaced."""
    from lwjvm import volume

    n = volume.import_(
        _state_root(ctx), spec, src, volume.parse_size(size) if size else None,
        warn=lambda m: click.echo(f"lwjvm: {m}", err=True),
    )  # fmt: skip
    _say(f"{spec}: imported from {'stdin' if src == '-' else src} ({n} files)")


@cli.command("restart")
@click.argument("name")
@click.option(
    "-t", "--time", "timeout", type=float, metavar="SECONDS",
    help="How long the app gets to stop before it is killed (default: the deploy's).",
)  # fmt: skip
@click.option("--no-wait", is_flag=True, help="Return once started; do not wait for health.")
@click.pass_context
def restart_cmd(ctx: click.Context, name: str, timeout: float | None, no_wait: bool) -> None:
    """Stop a VM if it runs and start it again from the same image; wait until it is healthy."""
    from lwjvm import deploy

    ctx.exit(deploy.restart(_vm(ctx, name), timeout, not no_wait, _say))


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_cmd(shell: str) -> None:
    """Print the shell completion script: eval "$(lwjvm completion bash)"."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "lwjvm", "_LWJVM_COMPLETE").source())


class _Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived outside a VM's run (which forwards them to the program)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _terminate(signum: int, _frame: object) -> None:
    raise _Terminated(signum)


def main() -> None:
    """Entry point: run the CLI and map errors to exit codes."""
    verbose = "-v" in sys.argv[1:2] or "--verbose" in sys.argv[1:2]
    # SIGTERM and SIGHUP unwind like Ctrl-C (the VMs this process started are stopped, its
    # temporary directories removed) instead of ending the process where it stands; ignored
    # ones (nohup) stay ignored.
    for s in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(s) == signal.SIG_DFL:
            signal.signal(s, _terminate)
    try:
        rc = cli.main(standalone_mode=False)
    except _Terminated as e:
        click.echo(f"lwjvm: stopped by {signal.Signals(e.signum).name}", err=True)
        sys.exit(e.code)
    except LwjvmError as e:
        if verbose:
            traceback.print_exc()
        click.echo(f"lwjvm: error: {e}", err=True)
        sys.exit(e.code)
    except click.exceptions.Abort:
        click.echo("lwjvm: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        hint = ""
        if isinstance(e, click.UsageError) and e.ctx is not None:
            hint = f" (see '{e.ctx.command_path} --help')"
        click.echo(f"lwjvm: error: {e.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(rc if isinstance(rc, int) else 0)
