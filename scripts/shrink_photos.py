"""Copy a folder of photos, each shrunk to at most N pixels on its long side (area-averaged JPEG).

Why: synthetic training pairs are 256-pixel crops of photos down-scaled by up to 2x anyway, and the
shrunk copies of `clean/` fit beside `sice/` in the 64 MiB that travels to a lent GPU machine. The
lynx configs train from `../shared/data/clean-384`, made by

    python scripts/shrink_photos.py ../shared/data/clean ../shared/data/clean-384 --side 384

Files already present are kept, so a second run does nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--quality", type=int, default=92)
    args = parser.parse_args()
    count = 0
    for path in sorted(args.source.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or not path.is_file():
            continue
        out = (args.target / path.relative_to(args.source)).with_suffix(".jpg")
        if out.exists():
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"{path}: not readable")
        scale = min(1.0, args.side / max(image.shape[:2]))
        if scale < 1.0:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out), image, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
        count += 1
    print(f"{count} photos written to {args.target}")


if __name__ == "__main__":
    main()
