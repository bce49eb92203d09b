"""Default JVM flags for a single-application VM, and how the manifest's options override them.

Memory follows the Paketo (Cloud Foundry) memory calculator: the heap is what is left of the VM's
memory once the fixed regions are counted: the guest kernel, direct memory, metaspace (from the
number of classes), the code cache and the thread stacks. The root image takes no guest RAM (it is
ivshmem device memory, docs/protocol.md section 1). The constants are in jvm-port/profile.json and
explained in jvm-port/README.md. The GC follows the JVM's own "server-class machine" rule: G1 with
2+ CPUs and 1792M+, else Serial.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lwjvm.errors import LwjvmError
from lwjvm.runtime import profile
from lwjvm.sizes import format_size, parse_size

MiB = 1 << 20


@dataclass(frozen=True)
class MemoryPlan:
    """How the VM's memory is divided; every figure in bytes."""

    total: int
    kernel: int
    direct: int
    metaspace: int
    code_cache: int
    stacks: int
    thread_stack: int
    heap: int
    classes: int


def plan_memory(memory: int, app_classes: int) -> MemoryPlan:
    """Divide `memory` for an application of `app_classes` classes."""
    m = profile()["memory"]
    kernel = parse_size(m["kernel_reserve"])
    direct = parse_size(m["direct_memory"])
    classes = int((app_classes + m["jdk_class_baseline"]) * m["class_load_factor"])
    metaspace = _round_mib(parse_size(m["metaspace_base"]) + classes * m["metaspace_per_class"])
    code_cache = min(
        parse_size(m["code_cache_max"]),
        max(parse_size(m["code_cache_min"]), _round_mib(memory // m["code_cache_fraction"])),
    )
    thread_stack = parse_size(m["thread_stack"])
    stacks = m["thread_count"] * thread_stack
    headroom = memory * m["headroom_percent"] // 100
    fixed = kernel + direct + metaspace + code_cache + stacks + headroom
    heap = (memory - fixed) // MiB * MiB
    if heap < parse_size(m["min_heap"]):
        raise LwjvmError(
            f"vm.memory {format_size(memory)} is too small for this application: the kernel, "
            f"direct memory, metaspace, code cache and {m['thread_count']} thread stacks take "
            f"{format_size(fixed)}, leaving {max(heap, 0) // MiB}M of heap "
            f"(at least {m['min_heap']} needed): raise vm.memory"
        )
    return MemoryPlan(
        memory, kernel, direct, metaspace, code_cache, stacks, thread_stack, heap, classes
    )


def _round_mib(n: int) -> int:
    return -(-n // MiB) * MiB


def choose_gc(memory: int, cpus: int) -> str:
    """The GC flag for `cpus` CPUs and `memory` bytes."""
    g = profile()["gc"]
    if cpus >= g["g1_min_cpus"] and memory >= parse_size(g["g1_min_memory"]):
        return "-XX:+UseG1GC"
    return "-XX:+UseSerialGC"


def default_flags(plan: MemoryPlan, cpus: int) -> list[str]:
    """lwjvm's default JVM flags for the memory plan and CPU count (the JVM counts the CPUs itself:
    the kernel's sched_getaffinity and /sys/devices/system/cpu agree on vm.cpus)."""
    return [
        f"-Xmx{plan.heap // MiB}M",
        f"-Xss{plan.thread_stack // MiB}M",
        f"-XX:MaxMetaspaceSize={plan.metaspace // MiB}M",
        f"-XX:ReservedCodeCacheSize={plan.code_cache // MiB}M",
        f"-XX:MaxDirectMemorySize={plan.direct // MiB}M",
        choose_gc(plan.total, cpus),
        *profile()["flags"],
    ]


_GC = re.compile(r"^-XX:[+-]Use\w*GC$")
_HEAP_MAX = re.compile(
    r"^(-Xmx|-XX:MaxHeapSize=|-XX:MaxRAMPercentage=|-XX:MaxRAMFraction=|-XX:MaxRAM=)"
)
_STACK = re.compile(r"^(-Xss|-XX:ThreadStackSize=)")
_XX = re.compile(r"^-XX:[+-]?(\w+)")


def family(option: str) -> str:
    """The setting an option controls: options of one family override each other."""
    if _GC.match(option):
        return "gc"
    if _HEAP_MAX.match(option):
        return "heap-max"
    if _STACK.match(option):
        return "thread-stack"
    m = _XX.match(option)
    if m:
        return "XX:" + m.group(1)
    if option.startswith("-D"):
        return "D:" + option[2:].split("=", 1)[0]
    if option.startswith("-X") and option[2:6] in ("ms", "mn"):
        return option[:4]
    return "opt:" + option


def merge(defaults: list[str], overrides: list[str]) -> list[str]:
    """`defaults` without those a manifest option of the same family replaces, then `overrides`."""
    replaced = {family(o) for o in overrides}
    return [d for d in defaults if family(d) not in replaced] + list(overrides)
