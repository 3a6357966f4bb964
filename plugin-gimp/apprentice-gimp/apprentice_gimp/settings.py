"""The connection settings (daemon address and token), kept as JSON in a global GIMP parasite
(GIMP saves those in its profile, `parasiterc`). No GIMP here: tools.py reads and writes the
parasite; this module checks and converts."""

import json
import re

from .client import DEFAULT_ADDRESS

PARASITE = "apprentice-settings"
DEFAULTS = {"address": DEFAULT_ADDRESS, "token": ""}


def check_address(address):
    """`host:port` (an IPv6 host in brackets), or a ValueError naming what is wrong."""
    address = (address or "").strip()
    for scheme in ("http://", "https://"):
        address = address.removeprefix(scheme)
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", address.rstrip("/"))
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"daemon address {address!r}: expected host:port, e.g. {DEFAULT_ADDRESS}")
    return address.rstrip("/")


def load(stored):
    """Settings from the parasite's bytes (None or damaged: the defaults)."""
    try:
        raw = json.loads(bytes(stored or b"{}").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raw = {}
    out = dict(DEFAULTS)
    if isinstance(raw, dict):
        try:
            out["address"] = check_address(raw.get("address") or DEFAULT_ADDRESS)
        except ValueError:
            pass
        if isinstance(raw.get("token"), str):
            out["token"] = raw["token"].strip()
    return out


def dump(address, token=""):
    """The parasite's bytes for these settings; a bad address raises ValueError."""
    return json.dumps({"address": check_address(address or DEFAULT_ADDRESS), "token": (token or "").strip()}).encode()


def describe(info):
    """What the daemon says about itself (its GetInfo answer), in a few lines."""
    lines = [f"Apprentice daemon {info.get('version', '?')} at work on {info.get('device', '?')}."]
    lines.append("Stroke models: " + (", ".join(info.get("models", [])) or "none"))
    lines.append("Painters: " + (", ".join(info.get("painters", [])) or "none"))
    lines.append("Magic-brush models: " + (", ".join(info.get("brush_models", [])) or "none"))
    if info.get("styles"):
        lines.append("Styles: " + ", ".join(info["styles"]))
    lines.extend(info.get("devices", []))
    return "\n".join(lines)
