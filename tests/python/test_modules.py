"""Module discovery (lwjvm/modules.py) without a build: the class-load log parser. Builds that
use it are in test_build_image.py; the fallbacks when jdeps fails are tested with real jars in
tests/guest/test_real_software.py."""

from __future__ import annotations

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
