"""boot.conf (docs/protocol.md section 2): exact bytes, escapes, and the parser's errors."""

from __future__ import annotations

import pytest

from lwjvm import bootconf
from lwjvm.bootconf import BootConfig
from lwjvm.errors import LwjvmError


def test_render_gives_the_documented_bytes() -> None:
    conf = BootConfig.make("/bin/hello", ["./hello", "a b"], ["A=1", "EMPTY="], "/")
    assert conf.render() == (
        b"lwjvm-boot 1\nexec=/bin/hello\narg=./hello\narg=a b\nenv=A=1\nenv=EMPTY=\ncwd=/\n"
    )


def test_newlines_and_backslashes_are_escaped_and_come_back() -> None:
    argv = ["p", "two\nlines", "back\\slash", "\\n literal", "", "tab\there", "é"]
    conf = BootConfig.make("/bin/p", argv, ["X=a\nb", "EQ=a=b=c"])
    data = conf.render()
    assert b"arg=two\\nlines\n" in data
    assert b"arg=back\\\\slash\n" in data
    assert b"arg=\\\\n literal\n" in data
    assert bootconf.parse(data) == conf


def test_non_utf8_arguments_survive_as_bytes() -> None:
    arg = b"\xff\xfe raw".decode(errors="surrogateescape")
    conf = BootConfig.make("/bin/p", ["p", arg])
    assert bootconf.parse(conf.render()).argv[1] == b"\xff\xfe raw"


def test_parser_skips_comments_and_blank_lines_and_defaults_cwd() -> None:
    conf = bootconf.parse(b"lwjvm-boot 1\n# comment\n\nexec=/x\narg=x\n")
    assert conf == BootConfig(b"/x", [b"x"], [], b"/")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"exec=/x\narg=x\n", "line 1: expected 'lwjvm-boot 1'"),
        (b"lwjvm-boot 2\nexec=/x\narg=x\n", "line 1"),
        (b"lwjvm-boot 1\nexec=/x\narg=x\nmount=/y\n", "line 4: unknown key 'mount'"),
        (b"lwjvm-boot 1\nexec=/x\narg=a\\tb\n", "line 3: bad escape"),
        (b"lwjvm-boot 1\nexec=/x\narg=trailing\\\n", "line 3: bad escape"),
        (b"lwjvm-boot 1\nexec=/x\nnoequals\n", "line 3: expected key=value"),
        (b"lwjvm-boot 1\narg=x\n", "no exec= line"),
        (b"lwjvm-boot 1\nexec=/x\n", "at least one"),
        (b"lwjvm-boot 1\nexec=\narg=x\n", "exec"),
        (b"lwjvm-boot 1\nexec=/x\narg=x\nenv=NOVALUE\n", "NAME=VALUE"),
    ],
)
def test_parser_rejects_what_the_kernel_rejects(data: bytes, message: str) -> None:
    with pytest.raises(LwjvmError, match=message):
        bootconf.parse(data)


def test_writer_refuses_nul_bytes_and_bad_env() -> None:
    with pytest.raises(LwjvmError, match="NUL"):
        BootConfig.make("/x", ["a\0b"]).render()
    with pytest.raises(LwjvmError, match="NAME=VALUE"):
        BootConfig.make("/x", ["x"], ["=value"])
