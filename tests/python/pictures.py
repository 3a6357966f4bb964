"""Comparing pictures: what an editor painted against the daemon's render of the same ops."""

import io

from PIL import Image


def daemon_png(client, source):
    """The daemon's render of a session (its id) or of a history (a dict)."""
    request = {"session_id": source} if isinstance(source, str) else {"history": source}
    return Image.open(io.BytesIO(client.render(request)["png"])).convert("RGBA")


def pixels(image):
    """Premultiplied RGBA: an erased pixel is transparent whatever colour it kept."""
    data = image.convert("RGBa").tobytes()
    return [tuple(data[i : i + 4]) for i in range(0, len(data), 4)]


def painted(px, threshold=24, base=None):
    """Pixels that differ by more than `threshold` in some channel (alpha included) from the white
    page, or from `base` (premultiplied pixels) where one is given."""
    if base is None:
        return [max(255 - c for c in p) > threshold for p in px]
    return [max(abs(c - d) for c, d in zip(p, q)) > threshold for p, q in zip(px, base)]


def fidelity(editor_image, daemon_image, base_image=None):
    """Coverage IoU of what each painted (over the white page, or over `base_image`), and the mean
    colour error (0..1) where both painted."""
    ka, kb = pixels(editor_image), pixels(daemon_image)
    base = pixels(base_image) if base_image is not None else None
    a, b = painted(ka, base=base), painted(kb, base=base)
    both = [i for i, (x, y) in enumerate(zip(a, b)) if x and y]
    union = sum(1 for x, y in zip(a, b) if x or y)
    error = sum(sum(abs(p - q) for p, q in zip(ka[i], kb[i])) / 4.0 for i in both) / max(1, len(both)) / 255.0
    return len(both) / max(1, union), error


def mse(a, b):
    """Mean squared error of two RGB images, channels in 0..1."""
    pa, pb = a.convert("RGB").tobytes(), b.convert("RGB").tobytes()
    return sum((x - y) ** 2 for x, y in zip(pa, pb)) / len(pa) / 255.0**2
