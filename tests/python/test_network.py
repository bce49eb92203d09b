"""The VM's network, host side: -p and vm.ports, the QEMU device line, boot.conf keys, /etc files.

The guest has no sockets yet, so what is checked in a VM is that the kernel boots the app with a
network device and the net.* keys, that `vm.network: none` gives no device, and that a host port
in use is refused before boot.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from lwjvm import bootconf, network, qemu
from lwjvm.descriptor import Health, Tap, VmPlan
from lwjvm.errors import LwjvmError
from lwjvm.network import NetConfig, PortMap, parse_port
from lwjvm.run import net_config
from lwjvm.testing import GUEST_TIMEOUT_S, guest_unavailable, lwjvm_command, write_manifest


def test_ports_bind_to_loopback_unless_an_address_is_given() -> None:
    assert parse_port("8080:80") == PortMap(8080, 80, "127.0.0.1", "tcp")
    assert parse_port("0.0.0.0:8080:80") == PortMap(8080, 80, "0.0.0.0", "tcp")
    assert parse_port("localhost:53:53/udp") == PortMap(53, 53, "127.0.0.1", "udp")
    assert parse_port("0.0.0.0:8080:80").hostfwd() == "tcp:0.0.0.0:8080-:80"
    assert parse_port(parse_port("5353:53/udp").to_json()) == parse_port("5353:53/udp")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8080", "-p: bad port mapping '8080': expected [ADDR:]HOST:GUEST"),
        ("0:80", "-p: '0:80': ports run from 1 to 65535"),
        ("1.2.3:80:80", "-p: bad address '1.2.3' in '1.2.3:80:80': expected an IP address"),
        ("[::1]:80:80", "-p: '[::1]:80:80': QEMU's user network forwards IPv4 host addresses only"),
    ],
)
def test_bad_port_mappings_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(LwjvmError) as info:
        parse_port(text)
    assert str(info.value).startswith(message)


def test_a_p_option_replaces_the_manifest_forward_of_its_guest_port() -> None:
    merged = network.merge_ports(
        [parse_port("8080:8080"), parse_port("9000:9000")], [parse_port("18080:8080")]
    )
    assert [str(p) for p in merged] == ["127.0.0.1:9000->9000", "127.0.0.1:18080->8080"]
    with pytest.raises(LwjvmError, match="host port 9000 is forwarded twice"):
        network.merge_ports([parse_port("9000:9000")], [parse_port("9000:1")])


def test_a_host_port_in_use_is_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(LwjvmError) as info:
            network.check_free([PortMap(port, 8080)])
    assert str(info.value) == (
        f"host port {port} (127.0.0.1) is already in use: choose another with -p HOST:8080"
    )
    network.check_free([PortMap(port, 8080)])  # closed: free again


def test_the_mac_is_stable_per_name_and_locally_administered() -> None:
    assert network.mac_for("web") == network.mac_for("web")
    assert network.mac_for("web") != network.mac_for("web-2")
    assert network.mac_for("web").startswith("52:54:00:")


def test_the_qemu_device_line_is_the_one_the_kernel_expects(tmp_path: Path) -> None:
    net = NetConfig("user", (parse_port("8080:8080"),), "52:54:00:12:34:56")
    cfg = qemu.VmConfig(kernel=tmp_path / "k", net=net)
    cmd = qemu.qemu_command("qemu", cfg, [10, 11, 12])
    i = cmd.index("-netdev")
    assert cmd[i + 1] == (
        "user,id=net0,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,"
        "hostfwd=tcp:127.0.0.1:8080-:8080"
    )
    assert cmd[i + 2 : i + 4] == [
        "-device",
        "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=",
    ]
    assert cmd[cmd.index("-M") + 1] == "microvm,pcie=on"
    none = qemu.qemu_command("qemu", qemu.VmConfig(kernel=tmp_path / "k"), [10, 11, 12])
    assert "-netdev" not in none and not any("virtio-net" in w for w in none)


def _plan(network_mode: str, ports: list[str]) -> VmPlan:
    return VmPlan(256 << 20, 1, ports, network_mode, [], Health(), "no")


def test_net_config_from_the_descriptor() -> None:
    plan = _plan("user", ["127.0.0.1:8080:8080"])
    net = net_config(plan, "web", [parse_port("0.0.0.0:9000:9000")])
    assert net is not None
    assert [str(p) for p in net.ports] == ["127.0.0.1:8080->8080", "0.0.0.0:9000->9000"]
    assert net.mac == network.mac_for("web")
    assert net_config(_plan("none", []), "web", []) is None
    with pytest.raises(LwjvmError, match="-p needs a network"):
        net_config(_plan("none", []), "web", [parse_port("1:1")])


def test_a_tap_network_attaches_the_device_with_the_static_address() -> None:
    tap = Tap("lo", "192.168.100.2/24", "192.168.100.1")  # lo: a device every host has
    plan = VmPlan(256 << 20, 1, [], "tap", [], Health(), "no", tap)
    net = net_config(plan, "web", [])
    assert net is not None and net.tap == "lo" and net.ports == ()
    args = net.qemu_args()
    netdev = args[args.index("-netdev") + 1]
    assert netdev.startswith("tap,id=net0,ifname=lo,script=no,downscript=no")
    assert netdev.endswith(",vhost=on") == network.vhost_net()
    with pytest.raises(LwjvmError, match="reached at its own address, 192.168.100.2"):
        net_config(plan, "web", [parse_port("8080:8080")])
    assert network.boot_keys("web", tap) == [
        ("net.ipv4", "192.168.100.2/24"), ("net.gateway", "192.168.100.1"),
        ("net.hostname", "web"),
    ]  # fmt: skip
    files = network.etc_files("web", "tap", tap)
    assert "192.168.100.2 web" in files["/etc/hosts"] and "/etc/resolv.conf" not in files
    missing = NetConfig("tap", (), tap="lwjvm-nosuch")
    with pytest.raises(LwjvmError, match="no network device lwjvm-nosuch"):
        missing.qemu_args()


def test_boot_conf_network_keys_round_trip() -> None:
    conf = bootconf.BootConfig.make("/x", ["x"], net=network.boot_keys("web"))
    data = conf.render()
    assert data.endswith(
        b"cwd=/\nnet.ipv4=10.0.2.15/24\nnet.gateway=10.0.2.2\nnet.dns=10.0.2.3\n"
        b"net.hostname=web\n"
    )
    assert bootconf.parse(data) == conf
    with pytest.raises(LwjvmError, match="unknown key 'net.mtu'"):
        bootconf.parse(b"lwjvm-boot 1\nexec=/x\narg=x\nnet.mtu=1500\n")


def test_etc_files_name_the_vm_and_the_dns_server() -> None:
    files = network.etc_files("web", "user")
    assert "10.0.2.15 web\n" in files["/etc/hosts"]
    assert files["/etc/hosts"].startswith("127.0.0.1 localhost\n")
    assert files["/etc/resolv.conf"].startswith("nameserver 10.0.2.3\n")
    assert "hosts: files dns" in files["/etc/nsswitch.conf"]
    assert "/etc/resolv.conf" not in network.etc_files("web", "none")


def _debugfs_cat(img: Path, path: str) -> str:
    out = subprocess.run(
        ["debugfs", "-R", f"cat {path}", str(img)], capture_output=True, check=True
    ).stdout
    return out.decode()


@pytest.mark.skipif(guest_unavailable() is not None, reason="no guest (kernel or QEMU missing)")
@pytest.mark.parametrize("mode", ["user", "none"])
def test_the_app_boots_with_and_without_a_network_device(
    mode: str, hello_jar: Path, tmp_path: Path
) -> None:
    """The kernel of today ignores the device and stores the net.* keys; `none` has neither."""
    manifest = write_manifest(tmp_path, "net-hello", hello_jar, main="Hello", cds=False)
    doc = json.loads(manifest.read_text())
    doc["vm"] = {"network": mode} if mode == "none" else {"ports": ["127.0.0.1:18931:8080"]}
    manifest.write_text(json.dumps(doc))
    out = tmp_path / "image"
    cmd = [*lwjvm_command(), "run", "-q", "--accel", "tcg", "-o", str(out), str(manifest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=GUEST_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Hello from lwjvm\n")
    conf = bootconf.parse(_debugfs_cat(out / "root.img", bootconf.PATH).encode())
    if mode == "none":
        assert conf.net == {}
        with socket.socket() as s:  # -p with no network is refused before boot
            s.bind(("127.0.0.1", 0))
            busy = s.getsockname()[1]
        proc = subprocess.run([*cmd[:-1], "-p", f"{busy}:80", str(manifest)], capture_output=True)
        assert proc.returncode == 125
        assert b"-p needs a network" in proc.stderr
    else:
        assert conf.net[b"net.hostname"] == b"net-hello"
        assert "10.0.2.15 net-hello" in _debugfs_cat(out / "root.img", "/etc/hosts")
        with socket.socket() as s:  # the same forward, with the port taken: one line, no boot
            s.bind(("127.0.0.1", 18931))
            s.listen()
            proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 125
        assert proc.stderr.strip().splitlines()[-1] == (
            "lwjvm: error: host port 18931 (127.0.0.1) is already in use: choose another with "
            "-p HOST:8080"
        )
