"""The VM's network, host side: port forwards, the QEMU netdev and device, the guest's addresses.

`vm.network: user` (the default) gives the guest QEMU's user-mode network (slirp): the guest is
10.0.2.15/24, its gateway 10.0.2.2 (the host), its DNS server 10.0.2.3, and each `vm.ports` entry
or `-p [ADDR:]HOST:GUEST` is a `hostfwd` rule bound to 127.0.0.1 unless an address is given. The
device is a virtio-net-pci on the PCIe bus of `-M microvm,pcie=on`, beside the root image's
ivshmem device, with a MAC derived from the VM's name so it is the same on every boot.
`vm.network: tap` attaches the virtio-net device to a tap device of the host (`vm.tap.device`,
made and given a host address beforehand), with vhost-net where the host has /dev/vhost-net: the
guest has its own static address (`vm.tap.address`) and is reached there, without forwards.
`vm.network: none` boots with no network device at all. docs/protocol.md, section 2, lists the
boot.conf keys that tell the kernel its addresses.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lwjvm.errors import LwjvmError

if TYPE_CHECKING:  # lwjvm ps parses ports and should not pay for the descriptor's import
    from lwjvm.descriptor import Tap

NETWORK_USER = "user"
NETWORK_NONE = "none"
NETWORK_TAP = "tap"
NETWORKS = (NETWORK_USER, NETWORK_NONE, NETWORK_TAP)

# QEMU user networking's fixed layout (the guest's side of slirp).
GUEST_IPV4 = "10.0.2.15/24"
GATEWAY = "10.0.2.2"
DNS = "10.0.2.3"
DEFAULT_BIND = "127.0.0.1"
NETDEV_ID = "net0"
# Every frame of the VM's network written to this file as a pcap (QEMU's filter-dump on the
# netdev), for reading with tcpdump or Wireshark; for tests and measuring by hand.
NET_DUMP_ENV = "LWJVM_NET_DUMP"
MAC_PREFIX = (0x52, 0x54, 0x00)  # QEMU's locally administered OUI

_PORT = re.compile(
    r"^(?:(?P<addr>\[[0-9A-Fa-f:.]+\]|[0-9.]+|localhost):)?"
    r"(?P<host>\d{1,5}):(?P<guest>\d{1,5})(?:/(?P<proto>tcp|udp))?$"
)


@dataclass(frozen=True)
class PortMap:
    """One forward: connections to `addr`:`host` on the host reach `guest` in the VM."""

    host: int
    guest: int
    addr: str = DEFAULT_BIND
    proto: str = "tcp"

    def __str__(self) -> str:
        addr = f"[{self.addr}]" if ":" in self.addr else self.addr
        tail = "" if self.proto == "tcp" else f"/{self.proto}"
        return f"{addr}:{self.host}->{self.guest}{tail}"

    def url_host(self) -> str:
        """The host to connect to for this forward (a wildcard bind is reached on loopback)."""
        if self.addr in ("0.0.0.0", ""):
            return "127.0.0.1"
        if self.addr == "::":
            return "[::1]"
        return f"[{self.addr}]" if ":" in self.addr else self.addr

    def hostfwd(self) -> str:
        """The QEMU `hostfwd=` value."""
        addr = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"{self.proto}:{addr}:{self.host}-:{self.guest}"

    def to_json(self) -> str:
        """The `[ADDR:]HOST:GUEST` spelling, addressed in full, that `parse_port` reads back."""
        addr = f"[{self.addr}]" if ":" in self.addr else self.addr
        tail = "" if self.proto == "tcp" else f"/{self.proto}"
        return f"{addr}:{self.host}:{self.guest}{tail}"


def parse_port(text: str, where: str = "-p") -> PortMap:
    """A `[ADDR:]HOST:GUEST[/udp]` forward; LwjvmError naming `where` if it is malformed."""
    m = _PORT.match(text.strip())
    if not m:
        raise LwjvmError(
            f"{where}: bad port mapping {text!r}: expected [ADDR:]HOST:GUEST such as 8080:8080 "
            "or 0.0.0.0:8080:8080"
        )
    host, guest = int(m.group("host")), int(m.group("guest"))
    for n in (host, guest):
        if not 1 <= n <= 65535:
            raise LwjvmError(f"{where}: {text!r}: ports run from 1 to 65535")
    addr = m.group("addr") or DEFAULT_BIND
    if addr == "localhost":
        addr = DEFAULT_BIND
    addr = addr.strip("[]")
    try:
        if ipaddress.ip_address(addr).version != 4:
            raise LwjvmError(
                f"{where}: {text!r}: QEMU's user network forwards IPv4 host addresses only"
            )
    except ValueError:
        raise LwjvmError(
            f"{where}: bad address {addr!r} in {text!r}: expected an IP address"
        ) from None
    return PortMap(host, guest, addr, m.group("proto") or "tcp")


def merge_ports(manifest_ports: list[PortMap], extra: list[PortMap]) -> list[PortMap]:
    """The manifest's forwards with `extra` (from -p) added; a -p for a guest port already
    forwarded replaces the manifest's forward of it. LwjvmError for one host port given twice."""
    replaced = {(e.proto, e.guest) for e in extra}
    out = [p for p in manifest_ports if (p.proto, p.guest) not in replaced]
    out += extra
    seen: dict[tuple[str, int], PortMap] = {}
    for p in out:
        key = (p.proto, p.host)
        if key in seen:
            raise LwjvmError(f"host port {p.host} is forwarded twice ({seen[key]} and {p})")
        seen[key] = p
    return out


def check_free(ports: list[PortMap]) -> None:
    """LwjvmError naming the first host port that cannot be bound (in use, or a bad address).

    Binds as QEMU's slirp does (SO_REUSEADDR), so a port held only by TIME_WAIT connections
    counts as free, and one with a listener as taken.
    """
    for p in ports:
        family = socket.AF_INET6 if ":" in p.addr else socket.AF_INET
        kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
        with socket.socket(family, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((p.addr, p.host))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise LwjvmError(
                        f"host port {p.host} ({p.addr}) is already in use: choose another "
                        f"with -p HOST:{p.guest}"
                    ) from None
                raise LwjvmError(f"cannot bind {p.addr}:{p.host}: {e.strerror}") from None


def mac_for(name: str) -> str:
    """A stable MAC address for the VM called `name`: 52:54:00 and three bytes of its hash."""
    import hashlib  # here: lwjvm ps imports this module and never needs it

    digest = hashlib.sha256(name.encode()).digest()
    return ":".join(f"{b:02x}" for b in (*MAC_PREFIX, *digest[:3]))


@dataclass(frozen=True)
class NetConfig:
    """The network of one boot: backend, forwards and MAC."""

    mode: str = NETWORK_USER
    ports: tuple[PortMap, ...] = ()
    mac: str = "52:54:00:12:34:56"
    tap: str | None = None  # the host's tap device, for mode tap

    def qemu_args(self) -> list[str]:
        """The QEMU options for this network (none for mode none)."""
        if self.mode == NETWORK_NONE:
            return []
        if self.mode == NETWORK_USER:
            netdev = ",".join(
                [f"user,id={NETDEV_ID}", "net=10.0.2.0/24", f"host={GATEWAY}", f"dns={DNS}"]
                + [f"hostfwd={p.hostfwd()}" for p in self.ports]
            )
        elif self.mode == NETWORK_TAP and self.tap is not None:
            check_tap(self.tap)
            netdev = f"tap,id={NETDEV_ID},ifname={self.tap},script=no,downscript=no"
            if vhost_net():
                netdev += ",vhost=on"
        else:
            raise LwjvmError(f"unknown network {self.mode!r}: expected {', '.join(NETWORKS)}")
        # romfile= : no iPXE option ROM (firmware on q35 would run it at every boot for nothing)
        device = f"virtio-net-pci,netdev={NETDEV_ID},mac={self.mac},romfile="
        args = ["-netdev", netdev, "-device", device]
        dump = os.environ.get(NET_DUMP_ENV)
        if dump:
            args += ["-object", f"filter-dump,id=netdump,netdev={NETDEV_ID},file={dump}"]
        return args


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TUN = Path("/dev/net/tun")
VHOST_NET = Path("/dev/vhost-net")


def vhost_net() -> bool:
    """Whether QEMU can move the tap's packets in the host kernel (vhost-net)."""
    return os.access(VHOST_NET, os.R_OK | os.W_OK)


def check_tap(device: str) -> None:
    """LwjvmError unless the host has /dev/net/tun and the tap device `device`."""
    if not TUN.exists():
        raise LwjvmError(f"vm.network: tap needs {TUN}, which this host lacks (modprobe tun)")
    if not Path("/sys/class/net", device).is_dir():
        raise LwjvmError(
            f"no network device {device} for vm.tap.device: make it first, e.g. ip tuntap add "
            f"dev {device} mode tap && ip addr add HOST_ADDRESS/LEN dev {device} && ip link set "
            f"{device} up"
        )


def boot_keys(hostname: str, tap: Tap | None = None) -> list[tuple[str, str]]:
    """The boot.conf network keys (protocol section 2): QEMU's user network's addresses, or the
    static ones of `tap`."""
    if tap is None:
        keys = [("net.ipv4", GUEST_IPV4), ("net.gateway", GATEWAY), ("net.dns", DNS)]
    else:
        keys = [("net.ipv4", tap.address)]
        keys += [("net.gateway", tap.gateway)] if tap.gateway else []
        keys += [("net.dns", tap.dns)] if tap.dns else []
    return [*keys, ("net.hostname", hostname)]


def etc_files(hostname: str, network: str, tap: Tap | None = None) -> dict[str, str]:
    """/etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf for the image of VM `hostname`."""
    hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"
    dns: str | None = DNS
    if network == NETWORK_NONE:
        hosts += f"127.0.1.1 {hostname}\n"
        dns = None
    elif tap is not None:
        hosts += f"{tap.ip} {hostname}\n"
        dns = tap.dns
    else:
        hosts += f"{GUEST_IPV4.split('/')[0]} {hostname}\n"
    files = {
        "/etc/hosts": hosts,
        "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
        "/etc/hostname": hostname + "\n",
    }
    if dns is not None:
        files["/etc/resolv.conf"] = f"nameserver {dns}\noptions timeout:2 attempts:2\n"
    return files
