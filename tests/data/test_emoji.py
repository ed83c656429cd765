import numpy as np
import pytest

from conftest import missing
from ganforge.data import emoji
from ganforge.errors import GanforgeError


def test_missing_font_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_EMOJI_FONT", str(tmp_path / "absent.ttf"))
    with pytest.raises(GanforgeError, match="apt-get install fonts-noto-color-emoji"):
        emoji.find_font()


def test_emoji_glyphs_are_decoded_at_the_seeds_resolution():
    try:
        font = emoji.find_font()
    except GanforgeError:
        missing("fonts-noto-color-emoji is not installed")
    glyphs = emoji.glyph_pngs(font)
    assert 3500 <= len(glyphs) <= 4500  # ~3,900 colour glyphs
    from PIL import Image
    import io

    first = Image.open(io.BytesIO(glyphs[100][1]))
    assert first.size == (136, 128)
    pixels = np.stack([emoji.decode(io.BytesIO(png), 128) for _, png in glyphs[100:110]])
    assert pixels.shape == (10, 128, 128, 3)
    # real artwork: colourful, not blank, with the white background where the glyph is transparent
    assert pixels.std() > 30 and (pixels[:, 0, 0] == 255).all()


def test_emoji_by_unicode_group_labels_each_glyph_by_the_code_points_that_reach_it():
    try:
        font = emoji.find_font()
    except GanforgeError:
        missing("fonts-noto-color-emoji is not installed")
    sequences = emoji.glyph_sequences(font)
    pixels, labels, names = emoji.make_emoji_groups(16)
    assert names == sorted(["Activities", "Animals & Nature", "Flags", "Food & Drink", "Objects", "People & Body",
                            "Smileys & Emotion", "Symbols", "Travel & Places"])
    assert len(pixels) == len(labels) and 3500 <= len(labels) <= 4500 and np.bincount(labels).min() >= 50
    # the glyph a code point sequence reaches is labelled by its group: the grinning face, a flag (a ligature)
    glyph_names = [name for name, _ in emoji.glyph_pngs(font)]
    reached = {sequence: name for name, sequence in sequences.items()}
    grinning, afghanistan = reached[(0x1F600,)], reached[(0x1F1E6, 0x1F1EB)]
    groups = emoji._groups_by_sequence()
    singles = {key[0]: group for key, group in groups.items() if len(key) == 1}
    kept = [n for n in glyph_names if emoji.emoji_group_of(sequences.get(n, ()), groups, singles)]  # in a group
    assert len(kept) == len(labels) and names[labels[kept.index(grinning)]] == "Smileys & Emotion"
    assert names[labels[kept.index(afghanistan)]] == "Flags"
    assert reached[(0x1F3FB,)] not in kept  # a skin-tone swatch is no picture of a group
