#!/usr/bin/env python3
"""A large sharp photo of native-resolution content, for the blind
estimate's window on photos of many megapixels (docs/benchmarks.md, "The
estimation window on large photos").

The shared sharp photos are at most a megapixel. This tiles the four
largest (cropped to 1000 x 640) four times each, each time in another
orientation (as is, mirrored left-right, upside down, both), into a 4 x 4
mosaic of 4000 x 2560 pixels (10.2 megapixels): every part of it is a
camera's own detail, never resampled. The tiles meet at straight seams;
the mirrored copies repeat a photo's content with other edge directions.

    python3 bench/mosaic.py ../shared/data OUT.png
"""
import sys

from PIL import Image

NAMES = ["manmade_03", "manmade_05", "natural_04", "people_05"]
TW, TH = 1000, 640


def main():
    data, out = sys.argv[1], sys.argv[2]
    tiles = []
    for name in NAMES:
        im = Image.open(f"{data}/sharp/{name}.png").convert("RGB")
        left, top = (im.width - TW) // 2, (im.height - TH) // 2
        tiles.append(im.crop((left, top, left + TW, top + TH)))
    flips = [
        lambda t: t,
        lambda t: t.transpose(Image.FLIP_LEFT_RIGHT),
        lambda t: t.transpose(Image.FLIP_TOP_BOTTOM),
        lambda t: t.transpose(Image.ROTATE_180),
    ]
    mosaic = Image.new("RGB", (4 * TW, 4 * TH))
    for row in range(4):
        for col in range(4):
            # row r holds every photo once, photo p in orientation (p + r) % 4
            photo = (col + row) % 4
            mosaic.paste(flips[(photo + row) % 4](tiles[photo]), (col * TW, row * TH))
    mosaic.save(out)


if __name__ == "__main__":
    main()
