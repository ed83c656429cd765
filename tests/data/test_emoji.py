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
