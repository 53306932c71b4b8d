"""Draw docs/img/toy-samples.png: eight prompts of the toy grammar, one row per toy card.

    .venv/bin/python docs/toy_samples.py

Images come through the cards (``load_pipeline``), seed 0, as ``arena generate`` draws them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from models.backends import load_pipeline  # noqa: E402
from models.cards import load_cards  # noqa: E402
from models.toy.grammar import benchmark_scenes  # noqa: E402
from models.toy.nets import CARD_SETTINGS  # noqa: E402

SCALE, LABEL = 3, 150  # pixels per image pixel; width of the row labels


def main() -> None:
    scenes = benchmark_scenes(8, seed=2026)
    cards = load_cards()
    side = 32 * SCALE
    sheet = Image.new("RGB", (LABEL + side * len(scenes), side * len(CARD_SETTINGS)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, card_id in enumerate(CARD_SETTINGS):
        loaded = load_pipeline(cards[card_id], device="cpu")
        try:
            images = loaded([s.prompt for s in scenes], [0] * len(scenes))
        finally:
            loaded.close()
        draw.text((8, row * side + side // 2 - 6), card_id, fill="black")
        for col, image in enumerate(images):
            sheet.paste(image.resize((side, side), Image.NEAREST), (LABEL + col * side, row * side))
    out = ROOT / "docs" / "img" / "toy-samples.png"
    sheet.save(out)
    print(f"wrote {out}")
    for i, scene in enumerate(scenes, start=1):
        print(f"{i}. {scene.prompt}")


if __name__ == "__main__":
    main()
