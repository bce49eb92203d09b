"""Host memory of N copies of an image restored from its warm snapshot against N cold boots of it
(docs/snapshots.md, "Figures"): each VM is started, answers GET / and 50 more, and once all run
QEMU's RSS and PSS are read from /proc/PID/smaps_rollup.

    python bench/snapshot/memory.py IMAGE_DIR warm|cold N

IMAGE_DIR: an image built with `vm.snapshot: true` whose app answers GET / on guest port 8080
(samples/http). Not part of `make bench`: a by-hand figure.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from pathlib import Path

import requests

from lwjvm import network, qemu, snapshot, vm
from lwjvm.descriptor import ImageDescriptor


def main() -> None:
    img, mode, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    desc = ImageDescriptor.read(img)
    running = []
    for _ in range(n):
        port = network.free_port()
        cfg = qemu.VmConfig(
            kernel=img / "kernel.elf", initrd=img / "root.img", memory_mib=desc.vm.memory_mib,
            accel="tcg", cpus=desc.vm.cpus, append=list(snapshot.KERNEL_ARGS),
            net=network.NetConfig("user", (network.PortMap(port, 8080),)),
        )  # fmt: skip
        if mode == "warm":
            snap, why = snapshot.choose(img, desc, cfg.memory_mib, cfg.cpus, "tcg", cfg.append)
            if snap is None:
                sys.exit(f"no usable snapshot: {why}")
            cfg = snapshot.restore_config(cfg, img, snap)
        ctl = vm.VmControl()
        pids: list[int] = []
        ctl.on_start = lambda p, pids=pids: pids.append(p.pid)
        t = threading.Thread(
            target=vm.run_vm, args=(cfg, io.BytesIO(), io.BytesIO()), kwargs={"control": ctl},
            daemon=True,
        )  # fmt: skip
        t.start()
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        for _ in range(50):
            requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        running.append((ctl, t, pids))
    time.sleep(3)
    rss = pss = 0
    for _, _, pids in running:
        for line in open(f"/proc/{pids[0]}/smaps_rollup", encoding="ascii"):
            key, value = line.split(":", 1)
            if key == "Rss":
                rss += int(value.split()[0])
            elif key == "Pss":
                pss += int(value.split()[0])
    print(f"{mode} x{n}: QEMU RSS {rss / 1024:.0f} MiB, PSS {pss / 1024:.0f} MiB in all")
    for ctl, t, _ in running:
        ctl.kill()
        t.join(30)


if __name__ == "__main__":
    main()
