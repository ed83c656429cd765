"""`emoji`: the colour glyphs of Noto Color Emoji, real artwork at the seed's own resolution.

The font stores each glyph as a 136x128 PNG in its CBDT table; fontTools reads them directly, so every
glyph is used (ZWJ sequences and flags too, which no single code point reaches).
"""
import io
import os
from pathlib import Path

import numpy as np

from ..errors import GanforgeError
from .images import decode

FONT_LOCATIONS = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/Library/Fonts/NotoColorEmoji.ttf",
)
INSTALL_HINT = (
    "the emoji dataset needs the Noto Color Emoji font: on Debian or Ubuntu `sudo apt-get install "
    "fonts-noto-color-emoji`, elsewhere download NotoColorEmoji.ttf and set GANFORGE_EMOJI_FONT to its path"
)


def find_font() -> Path:
    candidates = [os.environ["GANFORGE_EMOJI_FONT"]] if os.environ.get("GANFORGE_EMOJI_FONT") else list(FONT_LOCATIONS)
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise GanforgeError(INSTALL_HINT)


def glyph_pngs(font_path: Path) -> list[tuple[str, bytes]]:
    """(glyph name, PNG bytes) for every bitmap glyph in the font's largest strike, in glyph order."""
    from fontTools.ttLib import TTFont

    font = TTFont(font_path, lazy=True)
    if "CBDT" not in font:
        raise GanforgeError(f"{font_path}: not a CBDT colour-bitmap font; {INSTALL_HINT}")
    strike = font["CBDT"].strikeData[-1]
    order = {name: i for i, name in enumerate(font.getGlyphOrder())}
    return [(name, strike[name].imageData) for name in sorted(strike, key=order.get) if hasattr(strike[name], "imageData")]


def make_emoji(resolution: int) -> tuple[np.ndarray, list[str]]:
    glyphs = glyph_pngs(find_font())
    pixels = np.empty((len(glyphs), resolution, resolution, 3), dtype=np.uint8)
    for i, (_, png) in enumerate(glyphs):
        pixels[i] = decode(io.BytesIO(png), resolution)
    return pixels, [name for name, _ in glyphs]
