"""Measurements of the build pipeline (issue 5), run by `python -m lwjvm.buildbench`.

- `lwjvm build` of a Hello jar, cold (empty cache) and cached (same inputs again);
- image and runtime sizes against the full JDK and a plain `jlink --add-modules java.base`;
- Hello run from the extracted image (chroot), with and without its CDS archive, and with the
  host's full JDK for reference.
The sample is compiled on the fly with the build JDK's javac; figures are medians.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lwjvm import bootconf, inspect, rootrun
from lwjvm.build import Progress, build
from lwjvm.jdk import find_jdk
from lwjvm.manifest import load
from lwjvm.runtime import tree_size

HELLO = 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }'
RUNS = 10


def _median_ms(run: Any, n: int = RUNS) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 1)


def measure(jdk_home: Path | None = None) -> dict[str, Any]:
    """All the figures, as a dict (sizes in bytes, times in ms)."""
    jdk = find_jdk(jdk_home)
    out: dict[str, Any] = {"jdk": jdk.describe()}
    with tempfile.TemporaryDirectory(prefix="lwjvm-bench-") as td:
        work = Path(td)
        (work / "Hello.java").write_text(HELLO)
        subprocess.run(
            [jdk.tool("javac"), "--release", "17", "-d", work / "classes", work / "Hello.java"],
            check=True,
        )
        subprocess.run(
            [jdk.tool("jar"), "--create", "--file", work / "hello.jar", "--main-class", "Hello",
             "-C", work / "classes", "."],
            check=True,
        )  # fmt: skip
        (work / "app.yaml").write_text(
            f"name: hello\napp:\n  jar: hello.jar\njvm:\n  home: {jdk.home}\n"
        )
        cache = work / "cache"
        m = load(work / "app.yaml")
        cold = build(m, work / "out1", None, Progress(enabled=False), cache=cache)
        warm = build(m, work / "out2", None, Progress(enabled=False), cache=cache)
        out["build_cold_s"] = round(cold.timings["total"], 2)
        out["build_cold_steps_s"] = {k: round(v, 2) for k, v in cold.timings.items()}
        out["build_cached_s"] = round(warm.timings["total"], 2)
        desc = cold.descriptor
        out["root_img_bytes"] = desc.root_img.size
        # The image file is padded to a power of two with a sparse hole: what it really holds.
        out["root_img_allocated_bytes"] = cold.root_image.stat().st_blocks * 512
        out["runtime_bytes"] = desc.runtime.size
        out["cds_bytes"] = desc.cds.size if desc.cds else 0
        out["libraries_bytes"] = desc.libraries_size
        out["full_jdk_bytes"] = tree_size(jdk.home)
        plain = work / "plain-java-base"
        args = ["--add-modules", "java.base", "--output", str(plain)]
        subprocess.run([jdk.tool("jlink"), *args], check=True, capture_output=True)
        out["plain_jlink_java_base_bytes"] = tree_size(plain)

        if rootrun.unavailable() is None:
            root = work / "root"
            inspect.extract_root(cold.root_image, root)
            conf = bootconf.parse((root / "etc/lwjvm/boot.conf").read_bytes())
            argv = [a.decode() for a in conf.argv]
            env = dict(e.decode().split("=", 1) for e in conf.env)
            no_cds = [a for a in argv if not a.startswith(("-Xshare", "-XX:SharedArchiveFile"))]
            no_cds.insert(1, "-Xshare:off")

            def in_image(cmd: list[str]) -> None:
                rootrun.run_in_root(root, cmd, env, conf.cwd.decode())

            out["hello_image_cds_ms"] = _median_ms(lambda: in_image(argv))
            out["hello_image_no_cds_ms"] = _median_ms(lambda: in_image(no_cds))
            # unshare + /proc + chroot alone (ld.so printing its version), to subtract.
            interp = [lib.path for lib in desc.libraries if "ld-linux" in lib.path]
            out["chroot_overhead_ms"] = _median_ms(lambda: in_image([interp[0], "--version"]))
        host = [str(jdk.java), "-cp", str(work / "hello.jar"), "Hello"]
        out["hello_host_full_jdk_ms"] = _median_ms(
            lambda: subprocess.run(host, capture_output=True, check=True)
        )
    out["load_average"] = os.getloadavg()[0]
    return out


def main() -> None:
    home = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(json.dumps(measure(home), indent=2))


if __name__ == "__main__":
    main()
