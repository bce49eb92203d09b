"""`lwjvm build` end to end: reproducible images that run, extracted, with chroot like host java."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lwjvm import bootconf, inspect, jvmflags, rootrun
from lwjvm.build import BuildResult, build
from lwjvm.cli import cli
from lwjvm.errors import LwjvmError
from lwjvm.manifest import load
from lwjvm.sizes import parse_size

pytestmark = pytest.mark.skipif(
    rootrun.unavailable() is not None, reason=str(rootrun.unavailable())
)

HELLO_ARGS = ["one", "two words", "três"]
# The image's environment has LANG=C.UTF-8; the host run gets the same locale.
GUEST_LOCALE = {
    **{k: v for k, v in os.environ.items() if not k.startswith("LC_")},
    "LANG": "C.UTF-8",
}


def _project(root: Path, jars: list[Path], yaml: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for jar in jars:
        shutil.copy(jar, root / jar.name)
    (root / "app.yaml").write_text(yaml, encoding="utf-8")
    return root / "app.yaml"


def _hello_yaml(jdk: Any) -> str:
    args = json.dumps(HELLO_ARGS, ensure_ascii=False)
    return f"name: hello\napp:\n  jar: hello.jar\n  args: {args}\njvm:\n  home: {jdk.home}\n"


@pytest.fixture(scope="module")
def hello_build(
    tmp_path_factory: pytest.TempPathFactory, hello_jar: Path, java_jdk: Any, lwjvm_cache: Path
) -> BuildResult:
    work = tmp_path_factory.mktemp("hello")
    manifest = _project(work / "src", [hello_jar], _hello_yaml(java_jdk))
    return build(load(manifest), work / "out", None, cache=lwjvm_cache)


@pytest.fixture(scope="module")
def greeter_build(
    tmp_path_factory: pytest.TempPathFactory,
    greeter_jars: tuple[Path, Path],
    java_jdk: Any,
    lwjvm_cache: Path,
) -> BuildResult:
    work = tmp_path_factory.mktemp("greeter")
    app, lib = greeter_jars
    yaml = (
        "name: greeter\napp:\n  jar: greeter.jar\n  classpath: [text-utils.jar]\n"
        f"  args: [lwjvm]\njvm:\n  home: {java_jdk.home}\n  properties: {{greeter.mode: test}}\n"
        "env: {GREETING: bonjour}\nfiles: [{src: config/, dst: /app/config/}]\n"
    )
    manifest = _project(work / "src", [app, lib], yaml)
    (work / "src" / "config").mkdir()
    (work / "src" / "config" / "greeting.txt").write_text("from a file\n")
    return build(load(manifest), work / "out", None, cache=lwjvm_cache)


def _run_image(result: BuildResult, tmp_path: Path, share: str | None = None) -> Any:
    """Extract the root image and run its boot.conf command in it; the completed process."""
    root = tmp_path / "root"
    inspect.extract_root(result.root_image, root)
    conf = bootconf.parse((root / "etc" / "lwjvm" / "boot.conf").read_bytes())
    argv = [a.decode() for a in conf.argv]
    if share:
        argv = [share if a == "-Xshare:auto" else a for a in argv]
    env = dict(e.decode().split("=", 1) for e in conf.env)
    return rootrun.run_in_root(root, argv, env, conf.cwd.decode(), stop_after=120)


def test_hello_image_runs_in_chroot_as_on_host_java(
    hello_build: BuildResult, hello_jar: Path, host_java: Any, tmp_path: Path
) -> None:
    guest = _run_image(hello_build, tmp_path)
    host = host_java([hello_jar], "Hello", HELLO_ARGS, env=GUEST_LOCALE)
    assert guest.returncode == host.exit_code == 0
    assert guest.stdout.decode() == host.stdout
    assert guest.stderr.decode() == host.stderr == "to stderr\n"


def test_hello_image_maps_its_cds_archive(hello_build: BuildResult, tmp_path: Path) -> None:
    # -Xshare:on makes the JVM fail instead of silently running without the archive.
    guest = _run_image(hello_build, tmp_path, share="-Xshare:on")
    assert guest.returncode == 0, guest.stderr.decode()
    assert guest.stdout.decode().startswith("Hello from lwjvm\n")
    cds = hello_build.descriptor.cds
    assert cds is not None and cds.archive == "/app/app.jsa" and cds.size > 1 << 20


def test_app_with_dependencies_runs_in_chroot_as_on_host_java(
    greeter_build: BuildResult,
    greeter_jars: tuple[Path, Path],
    host_java: Any,
    tmp_path: Path,
) -> None:
    guest = _run_image(greeter_build, tmp_path)
    host = host_java(
        list(greeter_jars),
        "com.example.greeter.Main",
        ["lwjvm"],
        ["-Dgreeter.mode=test"],
        env={**GUEST_LOCALE, "GREETING": "bonjour"},
        cwd=greeter_build.out_dir.parent / "src",
    )
    assert (guest.returncode, guest.stdout.decode(), guest.stderr.decode()) == (
        host.exit_code,
        host.stdout,
        host.stderr,
    )
    assert host.exit_code == 3 and "HELLO-LWJVM" in host.stdout and "xml: en" in host.stdout
    assert "env: bonjour\nconfig: from a file\n" in host.stdout
    desc = greeter_build.descriptor
    assert desc.runtime.modules == ["java.base", "java.xml", "jdk.unsupported"]
    reasons = desc.runtime.module_reasons
    assert reasons["java.xml"] == "jdeps: the app's classes refer to it"
    assert reasons["jdk.unsupported"].startswith("always linked")
    assert [e.path for e in desc.app.classpath] == [
        "/app/greeter.jar",
        "/app/lib/text-utils.jar",
    ]


def test_same_inputs_give_the_same_image_from_the_cache(
    hello_build: BuildResult, hello_jar: Path, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    manifest = _project(tmp_path / "again", [hello_jar], _hello_yaml(java_jdk))
    again = build(load(manifest), tmp_path / "out", None, cache=lwjvm_cache)
    assert again.runtime.cache_hit and again.cds_cache_hit
    assert (tmp_path / "out" / "root.img").read_bytes() == hello_build.root_image.read_bytes()
    assert (tmp_path / "out" / "image.json").read_bytes() == (
        hello_build.out_dir / "image.json"
    ).read_bytes()


def test_cold_cds_cache_redoes_the_archive_from_the_same_class_list(
    hello_build: BuildResult, hello_jar: Path, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    # A fresh CDS cache (the runtime is shared): the training run and the dump happen again.
    # Everything but the archive's bytes is the same; the dump's bytes can differ under heavy
    # load (see jvm-port/README.md), so the image's hash is not compared here.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "runtimes").symlink_to(lwjvm_cache / "runtimes")
    manifest = _project(tmp_path / "again", [hello_jar], _hello_yaml(java_jdk))
    again = build(load(manifest), tmp_path / "out", None, cache=cache)
    assert again.cds_cache_hit is False and again.runtime.cache_hit
    first, second = hello_build.descriptor.to_json(), again.descriptor.to_json()
    assert second["cds"]["classlist_sorted"] is True

    def same_part(desc: dict[str, Any]) -> dict[str, Any]:
        cds = {k: v for k, v in desc["cds"].items() if k != "size"}
        return {**{k: v for k, v in desc.items() if k not in ("root_img", "kernel")}, "cds": cds}

    assert same_part(second) == same_part(first)


def test_cli_build_and_inspect(
    hello_jar: Path,
    java_jdk: Any,
    lwjvm_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(lwjvm_cache.parent))
    manifest = _project(tmp_path / "src", [hello_jar], _hello_yaml(java_jdk))
    out = tmp_path / "img"
    built = CliRunner().invoke(cli, ["build", str(manifest), "-o", str(out), "--no-kernel"])
    assert built.exit_code == 0, built.output
    assert "runtime (jlink or cache): ok" in built.output
    shown = CliRunner().invoke(cli, ["inspect", str(out / "root.img")])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "main class:  Hello\n" in text and "modules:     java.base, jdk.unsupported\n" in text
    assert "             java.base: jdeps: the app's classes refer to it\n" in text
    assert "sha256 ok" in text
    assert "command:     /opt/java/bin/java -Xmx" in text
    assert "-cp /app/hello.jar Hello one 'two words' 'três'\n" in text


def test_unknown_module_names_the_manifest_line(
    hello_jar: Path, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    yaml = _hello_yaml(java_jdk) + "  modules: [auto, jdk.nosuchmodule]\n"
    manifest = _project(tmp_path, [hello_jar], yaml)
    with pytest.raises(LwjvmError) as info:
        build(load(manifest), tmp_path / "out", None, cache=lwjvm_cache)
    assert str(info.value).startswith(f"{manifest}:7: jvm.modules: ")
    assert str(info.value).endswith("has no module jdk.nosuchmodule")


def test_memory_plan_follows_vm_memory() -> None:
    small = jvmflags.plan_memory(parse_size("256M"), 100)
    big = jvmflags.plan_memory(parse_size("2G"), 100)
    assert small.heap == 256 - 8 - 10 - 28 - 32 - 50 << 20
    assert big.heap > 1536 << 20
    assert big.code_cache == 240 << 20 and small.code_cache == 32 << 20


def test_vm_memory_too_small_for_the_fixed_regions() -> None:
    with pytest.raises(LwjvmError) as info:
        jvmflags.plan_memory(parse_size("128M"), 100)
    assert str(info.value) == (
        "vm.memory 128M is too small for this application: the kernel, direct memory, "
        "metaspace, code cache and 50 thread stacks take 128M, leaving 0M of heap "
        "(at least 16M needed): raise vm.memory"
    )


def test_gc_by_cpus_and_memory() -> None:
    assert jvmflags.choose_gc(parse_size("256M"), 4) == "-XX:+UseSerialGC"
    assert jvmflags.choose_gc(parse_size("4G"), 1) == "-XX:+UseSerialGC"
    assert jvmflags.choose_gc(parse_size("2G"), 2) == "-XX:+UseG1GC"


def test_manifest_options_replace_the_defaults_they_override() -> None:
    plan = jvmflags.plan_memory(parse_size("512M"), 100)
    defaults = jvmflags.default_flags(plan, 1)
    merged = jvmflags.merge(
        defaults, ["-XX:+UseParallelGC", "-Xmx100M", "-XX:+UsePerfData", "-Dx=1"]
    )
    assert "-XX:+UseSerialGC" not in merged and "-XX:-UsePerfData" not in merged
    assert [f for f in merged if f.startswith("-Xmx")] == ["-Xmx100M"]
    assert merged[-4:] == ["-XX:+UseParallelGC", "-Xmx100M", "-XX:+UsePerfData", "-Dx=1"]
    assert "-XX:-UseContainerSupport" in merged
    assert not any(f.startswith("-XX:ActiveProcessorCount") for f in merged)  # the JVM counts


def test_class_list_is_put_in_canonical_order() -> None:
    from lwjvm.build import normalize_classlist

    run1 = "# header\njava/lang/Object id: 0\nHello id: 2\njava/lang/String id: 1\n@lambda-x b\n"
    run2 = "# header\njava/lang/Object id: 0\njava/lang/String id: 1\nHello id: 2\n@lambda-x b\n"
    assert normalize_classlist(run1) == normalize_classlist(run2)
    text, sorted_ = normalize_classlist(run1)
    assert sorted_ and text == "Hello\njava/lang/Object\njava/lang/String\n@lambda-x b\n"
    custom = "A id: 0\nB id: 1 super: 0 source: /x.jar\n"
    assert normalize_classlist(custom) == (custom, False)


SERVER = {
    "Server.java": """
public class Server {
    public static void main(String[] args) throws Exception {
        java.util.Map<String, Integer> hits = new java.util.concurrent.ConcurrentHashMap<>();
        hits.merge("start", 1, Integer::sum);
        System.out.println("serving " + hits);
        if (args.length == 0) {
            Thread.sleep(3_600_000);  // a server: runs until it is stopped
        }
    }
}
""",
}


def test_training_run_of_a_server_is_stopped_and_its_classes_archived(
    java_program: Any, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    jar = java_program("server", SERVER, main="Server")
    yaml = (
        f"name: server\napp:\n  jar: server.jar\n  args: [once]\njvm:\n  home: {java_jdk.home}\n"
        # In the guest under TCG (and a loaded machine) the JVM needs seconds to start.
        "  cds: {args: [], timeout: 40s}\n"
    )
    result = build(load(_project(tmp_path / "src", [jar], yaml)), tmp_path / "out", None,
                   cache=lwjvm_cache)  # fmt: skip
    cds = result.descriptor.cds
    assert cds is not None and cds.training == "stopped after 40s"
    assert cds.classes > 300
    guest = _run_image(result, tmp_path, share="-Xshare:on")
    assert (guest.returncode, guest.stdout) == (0, b"serving {start=1}\n")


def test_library_missing_on_the_host_is_left_out_and_reported(
    java_jdk: Any, tmp_path: Path
) -> None:
    import subprocess

    from lwjvm.build import runtime_libraries

    rt = tmp_path / "runtime"
    (rt / "bin").mkdir(parents=True)
    (rt / "lib").mkdir()
    shutil.copy(java_jdk.java, rt / "bin" / "java")
    shutil.copy(java_jdk.home / "lib" / "libjli.so", rt / "lib" / "libjli.so")
    gone, user = tmp_path / "gone.c", tmp_path / "user.c"
    gone.write_text("int gone(void) { return 1; }\n")
    user.write_text("int gone(void);\nint user(void) { return gone(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "libgone.so", gone], check=True)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", rt / "lib" / "libuser.so", user,
         f"-L{tmp_path}", "-lgone"],
        check=True,
    )  # fmt: skip
    (tmp_path / "libgone.so").unlink()
    libs = runtime_libraries(rt)
    assert libs.missing == {"libgone.so": ["lib/libuser.so"]}
    assert any(f.path.endswith("libc.so.6") for f in libs.files)


TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")


@pytest.mark.skipif(not TEMURIN_25.is_dir(), reason="Temurin 25 not installed")
def test_temurin_25_image_runs_in_chroot_as_on_its_host_java(
    hello_jar: Path, lwjvm_cache: Path, tmp_path: Path
) -> None:
    import subprocess

    yaml = f"name: hello25\napp:\n  jar: hello.jar\n  args: [a, b]\njvm:\n  home: {TEMURIN_25}\n"
    result = build(load(_project(tmp_path / "src", [hello_jar], yaml)), tmp_path / "out", None,
                   cache=lwjvm_cache)  # fmt: skip
    assert result.descriptor.jdk.version.startswith("25")
    guest = _run_image(result, tmp_path, share="-Xshare:on")
    host = subprocess.run(
        [TEMURIN_25 / "bin" / "java", "-cp", hello_jar, "Hello", "a", "b"],
        capture_output=True,
        env=GUEST_LOCALE,
    )
    assert (guest.returncode, guest.stdout, guest.stderr) == (
        host.returncode,
        host.stdout,
        host.stderr,
    )


def test_class_directory_on_the_class_path_becomes_a_jar_in_the_image(
    greeter_jars: tuple[Path, Path],
    java_jdk: Any,
    host_java: Any,
    lwjvm_cache: Path,
    tmp_path: Path,
) -> None:
    import zipfile

    app, lib = greeter_jars
    classes = tmp_path / "src" / "text-classes"
    with zipfile.ZipFile(lib) as zf:
        zf.extractall(classes)
    yaml = (
        "name: greeter-dir\napp:\n  jar: greeter.jar\n  classpath: [text-classes/]\n"
        f"  args: [dir]\njvm:\n  home: {java_jdk.home}\n"
        "env: {GREETING: hi}\nfiles: [{src: config/, dst: /app/config/}]\n"
    )
    manifest = _project(tmp_path / "src", [app], yaml)
    (tmp_path / "src" / "config").mkdir()
    (tmp_path / "src" / "config" / "greeting.txt").write_text("dir\n")
    result = build(load(manifest), tmp_path / "out", None, cache=lwjvm_cache)
    paths = [e.path for e in result.descriptor.app.classpath]
    assert paths == ["/app/greeter.jar", "/app/lib/text-classes.jar"]
    guest = _run_image(result, tmp_path, share="-Xshare:on")
    host = host_java(
        [app, classes],
        "com.example.greeter.Main",
        ["dir"],
        env={**GUEST_LOCALE, "GREETING": "hi"},
        cwd=tmp_path / "src",
    )
    assert (guest.returncode, guest.stdout.decode()) == (host.exit_code, host.stdout)
    assert "HELLO-DIR" in host.stdout


def test_main_class_missing_from_the_class_path_names_the_manifest_line(
    hello_jar: Path, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    yaml = _hello_yaml(java_jdk).replace("  jar: hello.jar\n", "  jar: hello.jar\n  main: Helo\n")
    manifest = _project(tmp_path, [hello_jar], yaml)
    with pytest.raises(LwjvmError) as info:
        build(load(manifest), tmp_path / "out", None, cache=lwjvm_cache)
    assert str(info.value) == (
        f"{manifest}:4: app.main: main class Helo is not in the class path (hello.jar)"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="drops root privileges to test a user's build")
def test_a_user_without_root_builds_the_same_cds_archive(
    hello_build: BuildResult, hello_jar: Path, java_jdk: Any
) -> None:
    import subprocess
    import tempfile

    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*nobody, sys.executable, "-c", "import lwjvm"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this checkout's python and lwjvm")
    # pytest's own temporary directories are private to root: use one "nobody" can enter.
    work = Path(tempfile.mkdtemp(prefix="lwjvm-user-"))
    try:
        work.chmod(0o777)
        manifest = _project(work, [hello_jar], _hello_yaml(java_jdk))
        for p in work.iterdir():
            p.chmod(0o644)
        env = {**GUEST_LOCALE, "HOME": str(work), "XDG_CACHE_HOME": str(work / "cache")}
        cmd = [*nobody, sys.executable, "-m", "lwjvm", "build", str(manifest),
               "-o", str(work / "out"), "--no-kernel", "-q"]  # fmt: skip
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        desc = json.loads((work / "out" / "image.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert hello_build.descriptor.cds is not None
    assert desc["cds"]["key"] == hello_build.descriptor.cds.key
    assert desc["cds"]["classes"] == hello_build.descriptor.cds.classes


REFLECTIVE = {
    "Reflective.java": """
public class Reflective {
    public static void main(String[] args) throws Exception {
        // Built at run time: no static tool sees java.sql here.
        String name = String.join(".", "java", "sql", "Date");
        Object d = Class.forName(name).getConstructor(long.class).newInstance(0L);
        System.out.println(d.getClass().getName() + " " + d.getClass().getModule().getName());
    }
}
"""
}


def test_modules_the_app_loads_by_reflection_are_found_by_the_training_run(
    tmp_path: Path, java_program: Any, java_jdk: Any, lwjvm_cache: Path
) -> None:
    if rootrun.unavailable():
        pytest.skip(f"no training run here: {rootrun.unavailable()}")
    jar = java_program("reflective", REFLECTIVE, main="Reflective")
    yaml = f"name: reflective\napp:\n  jar: reflective.jar\njvm:\n  home: {java_jdk.home}\n"
    yaml += "  cds: false\n"
    result = build(load(_project(tmp_path / "src", [jar], yaml)), tmp_path / "out", None,
                   cache=lwjvm_cache)  # fmt: skip
    reasons = result.descriptor.runtime.module_reasons
    assert "java.sql" not in java_tools_modules(java_jdk, jar)  # jdeps alone misses it
    assert reasons["java.sql"] == "the training run (exit 0) loaded java.sql.Date"
    run = _run_image(result, tmp_path)
    assert run.stdout.decode() == "java.sql.Date java.sql\n", run.stderr.decode()


def java_tools_modules(jdk: Any, jar: Path) -> list[str]:
    from lwjvm.jvmtools import JavaTools

    return JavaTools(jdk).jdeps_modules([jar])


PEEK = {
    "Peek.java": """
import java.nio.file.*;

public class Peek {
    public static void main(String[] args) throws Exception {
        String canary = args[0];
        Class.forName("java.util.logging.Logger");  // a module only a training run finds
        java.util.List<String> tries = new java.util.ArrayList<>(
            java.util.List.of(canary, "/proc/self/root" + canary));
        for (int pid = 1; pid <= 64; pid++) {
            tries.add("/proc/" + pid + "/root" + canary);
        }
        for (String t : tries) {
            try {
                if (Files.readString(Path.of(t)).contains("host secret")) {
                    System.out.println("read the host's " + t);
                    System.exit(42);
                }
            } catch (Exception e) {
                // not reachable: good
            }
        }
        System.exit(7);
    }
}
""",
}


def test_training_runs_cannot_read_a_host_file_outside_the_image(
    java_program: Any, java_jdk: Any, lwjvm_cache: Path, tmp_path: Path
) -> None:
    """The module and CDS training runs execute the app at build time: in the guest, so a canary
    file on the host is out of reach by its path and through /proc/PID/root (the host chroot they
    replaced let an app read it through /proc/1/root)."""
    canary = tmp_path / "canary.txt"
    canary.write_text("host secret\n")
    jar = java_program("peek", PEEK, main="Peek")
    yaml = (
        f"name: peek\napp:\n  jar: peek.jar\n  args: [{json.dumps(str(canary))}]\n"
        f"jvm:\n  home: {java_jdk.home}\n"
    )
    result = build(load(_project(tmp_path / "src", [jar], yaml)), tmp_path / "out", None,
                   cache=lwjvm_cache)  # fmt: skip
    assert result.descriptor.cds is not None
    assert result.descriptor.cds.training == "exit 7"  # 42: it read the canary
    reasons = result.descriptor.runtime.module_reasons
    assert any("the training run (exit 7)" in why for why in reasons.values()), reasons
