"""Shared fixtures for the build pipeline tests: sample Java programs and one shared cache.

The lwjvm cache (jlinked runtimes, jdeps results, CDS archives) is shared by all the xdist
workers of a run, so a runtime is linked once per run; lwjvm/runtime.py makes that safe.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

HELLO = {
    "Hello.java": """
public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from lwjvm");
        System.out.println("args: " + String.join("|", args));
        long sum = 0;
        for (int i = 1; i <= 1000; i++) sum += (long) i * i;
        System.out.println("sum of squares: " + sum);
        System.err.println("to stderr");
    }
}
""",
}

TEXT_LIB = {
    "com/example/text/Words.java": """
package com.example.text;

import java.util.Arrays;
import java.util.stream.Collectors;

public final class Words {
    private Words() {}

    public static String shout(String s) {
        return Arrays.stream(s.split(" ")).map(String::toUpperCase)
            .collect(Collectors.joining("-"));
    }
}
""",
}

GREETER = {
    "com/example/greeter/Main.java": """
package com.example.greeter;

import com.example.text.Words;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;

public class Main {
    public static void main(String[] args) throws Exception {
        String name = args.length > 0 ? args[0] : "nobody";
        System.out.println(Words.shout("hello " + name));
        CRC32 crc = new CRC32();
        crc.update(name.getBytes(StandardCharsets.UTF_8));
        System.out.println("crc: " + Long.toHexString(crc.getValue()));
        String xml = "<greeting lang='en'>hi</greeting>";
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
            .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));
        System.out.println("xml: " + doc.getDocumentElement().getAttribute("lang"));
        System.out.println("property: " + System.getProperty("greeter.mode"));
        System.out.println("env: " + System.getenv("GREETING"));
        java.nio.file.Path config = java.nio.file.Paths.get("config", "greeting.txt");
        System.out.println("config: " + java.nio.file.Files.readString(config).trim());
        System.exit(3);
    }
}
""",
}


@pytest.fixture(scope="session")
def lwjvm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One lwjvm cache for the whole run (all xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    path = base / "xdg-cache" / "lwjvm"  # laid out as $XDG_CACHE_HOME/lwjvm
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def hello_jar(java_program: Any) -> Path:
    return java_program("hello", HELLO, main="Hello")


@pytest.fixture(scope="session")
def greeter_jars(java_program: Any) -> tuple[Path, Path]:
    """(app jar, library jar): the app needs the library, java.xml and java.base."""
    lib = java_program("text-utils", TEXT_LIB)
    app = java_program("greeter", GREETER, main="com.example.greeter.Main", classpath=[lib])
    return app, lib
