"""Serving commands: the port can be chosen by option or environment, and a busy port is one
sentence before any work starts."""

from __future__ import annotations

import socket
from pathlib import Path

import click
from click.testing import CliRunner
from servers import free_port

from arena.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _listening() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_a_busy_port_is_one_sentence_before_any_work(make_study) -> None:
    study, _ = make_study()
    sock, port = _listening()
    try:
        for args, env in (
            (["serve", "--study", str(study.path), "--port", str(port)], {}),
            (["serve", "--study", str(study.path)], {"ARENA_PORT": str(port)}),
            (["demo", "--workdir", str(study.path.parent / "demo")], {"ARENA_PORT": str(port)}),
        ):
            got = CliRunner().invoke(cli, args, env=env)
            assert got.exit_code == 1, got.output
            assert got.output.startswith(f"Error: Port {port} on 127.0.0.1 is in use"), got.output
            assert "--port or ARENA_PORT" in got.output and "Traceback" not in got.output
            assert got.output.count("\n") == 1, got.output  # nothing ingested, generated, served
    finally:
        sock.close()
    assert not (study.path.parent / "demo").exists()  # the demo drew nothing


def test_a_port_out_of_range_names_the_option(make_study) -> None:
    study, _ = make_study()
    got = CliRunner().invoke(cli, ["serve", "--study", str(study.path), "--port", "70000"])
    assert got.exit_code == 2 and "--port" in got.output and "70000" in got.output


def test_a_free_port_passes_the_check() -> None:
    from arena.cli import _check_port

    _check_port("127.0.0.1", free_port())  # raises on a busy port, as above


def test_every_environment_variable_of_an_option_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    envvars, groups = set(), [cli]
    while groups:
        for command in groups.pop().commands.values():
            if isinstance(command, click.Group):
                groups.append(command)
            envvars |= {p.envvar for p in command.params if getattr(p, "envvar", None)}
    assert "ARENA_PORT" in envvars
    for name in envvars:
        assert f"`{name}`" in doc, f"{name} is not in docs/cli.md"
