"""Module discovery (lwjvm/modules.py) without a build: the class-load log parser, a training run
that finds nothing. Builds that use it are in test_build_image.py; the fallbacks when jdeps fails
are tested with real jars in tests/guest/test_real_software.py."""

from __future__ import annotations

from typing import Any

import pytest

from lwjvm import modules


def test_class_load_log_gives_each_module_with_its_first_class() -> None:
    log = (
        "[0.012s][info][class,load] java.lang.Object source: jrt:/java.base\n"
        "[0.013s][info][class,load] java.lang.String source: jrt:/java.base\n"
        "[0.201s][info][class,load] Main source: file:/app/app.jar\n"
        "[0.305s][info][class,load] sun.misc.Unsafe source: jrt:/jdk.unsupported\n"
        "[0.306s][info][class,load] LambdaForm$MH/0x01 source: __JVM_LookupDefineClass__\n"
        "[0.400s][info][class,load] java.sql.Date source: jrt:/java.sql\n"
    )
    assert modules.loaded_modules(log) == {
        "java.base": "java.lang.Object",
        "jdk.unsupported": "sun.misc.Unsafe",
        "java.sql": "java.sql.Date",
    }


def test_a_training_run_that_loads_nothing_is_a_note_not_a_failure(
    tmp_path: Any, java_program: Any, java_jdk: Any, lwjvm_cache: Any
) -> None:
    """The app exits before the JVM loads a class of its own (a bad JVM option here): the build
    goes on with what jdeps found and says the training run found nothing."""
    from lwjvm import build as build_mod
    from lwjvm import rootrun
    from lwjvm.jvmtools import JavaTools
    from lwjvm.manifest import load

    if rootrun.unavailable():
        pytest.skip(f"no training run here: {rootrun.unavailable()}")
    jar = java_program("notrain", {"Main.java": "public class Main { public static void "
                                   "main(String[] a) { System.out.println(1); } }"}, main="Main")
    (tmp_path / "app.yaml").write_text(
        f"name: notrain\napp:\n  jar: {jar}\njvm:\n  cds: false\n  options: [-XX:+NoSuchFlag]\n"
    )
    m = load(tmp_path / "app.yaml", [jar])
    found = modules.discover(
        m, JavaTools(java_jdk), "Main", build_mod.guest_classpath(m), {}, m.jvm_options,
        lwjvm_cache, build_mod.nested_jars,
    )  # fmt: skip
    assert found.modules == ["java.base", "jdk.unsupported"]
    assert any(n.startswith("the module training run found nothing (exit 1") for n in found.notes)
