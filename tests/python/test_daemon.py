"""The plug-ins' managed daemon (apprentice_client.daemon), with the real binary: started when
nothing answers on a loopback address, left alone when something does, ended with its editor."""

import json
import socket
import subprocess
import sys
import time

import pytest
from apprentice_client import Client, daemon
from conftest import daemon_binary


def free_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def answers(address):
    try:
        Client(address, timeout=2.0).get_info()
        return True
    except Exception:  # noqa: BLE001 (anything but an answer)
        return False


def test_the_binary_is_found_in_the_settings_the_install_record_or_the_path(tmp_path, monkeypatch):
    binary = daemon_binary()
    record = tmp_path / "install.json"
    record.write_text(json.dumps({"apprentice": binary}))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert daemon.find_binary(None, str(record)) == binary
    assert daemon.find_binary(binary, None) == binary
    assert daemon.find_binary("/no/such/apprentice", None) is None
    assert daemon.find_binary(None, str(tmp_path / "missing.json")) is None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apprentice").symlink_to(binary)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert daemon.find_binary(None, None) == str(bin_dir / "apprentice")


def test_a_daemon_is_started_when_none_answers_and_stopped_on_request(tmp_path):
    address = free_address()
    log = tmp_path / "logs" / "daemon.log"
    managed = daemon.ensure(Client(address, timeout=5.0), daemon_binary(), log)
    try:
        assert managed is not None and managed.running()
        assert answers(address)
        # Asked again, the running one is used as it is.
        assert daemon.ensure(Client(address, timeout=5.0), daemon_binary(), log) is None
        assert "serve --address " + address in log.read_text()
    finally:
        managed.stop()
    assert not managed.running() and not answers(address)


def test_the_daemon_ends_with_the_editor_that_started_it(tmp_path):
    address = free_address()
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    managed = daemon.ensure(Client(address, timeout=5.0), daemon_binary(), tmp_path / "d.log", parent_pid=editor.pid)
    try:
        assert answers(address)
        editor.kill()
        editor.wait()
        end = time.monotonic() + 15
        while managed.running() and time.monotonic() < end:
            time.sleep(0.2)
        assert not managed.running(), "the daemon outlived its editor"
        assert managed.process.returncode == 0, "a clean shutdown"
    finally:
        editor.kill()
        managed.stop()


def test_what_cannot_be_started_is_said_in_words(tmp_path):
    with pytest.raises(daemon.NotStarted, match="only on this computer"):
        daemon.ensure(Client("192.0.2.1:47820", timeout=1.0, connect_timeout=0.5), daemon_binary(), tmp_path / "l")
    with pytest.raises(daemon.NotStarted, match="apprentice program was not found"):
        daemon.ensure(Client(free_address(), timeout=1.0), None, tmp_path / "l")
    # A binary that fails at once: its own words come back from the log.
    bad = tmp_path / "apprentice"
    bad.write_text("#!/bin/sh\necho 'cannot listen: the port is taken' >&2\nexit 1\n")
    bad.chmod(0o755)
    with pytest.raises(daemon.NotStarted, match="the port is taken"):
        daemon.ensure(Client(free_address(), timeout=1.0), str(bad), tmp_path / "bad.log")
