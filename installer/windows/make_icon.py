"""Regenerates installer/windows/crm-desktop.ico from resources/icons/app.svg (run after changing the logo).

    .venv/bin/python installer/windows/make_icon.py

Windows wants a multi-size .ico for the executable, the Start menu and the installer; Linux uses
the SVG itself (hicolor/scalable)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parents[2]
SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)


def render(renderer: QSvgRenderer, size: int) -> Image.Image:
    image = QImage(size, size, QImage.Format.Format_RGBA8888)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    # RGBA8888 is byte-ordered R, G, B, A on every platform: Pillow's "RGBA" as is.
    return Image.frombytes("RGBA", (size, size), bytes(image.constBits()), "raw", "RGBA", image.bytesPerLine())


def main() -> None:
    app = QGuiApplication([])
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "app.svg"))
    # Each size drawn from the vector, not scaled down from the biggest bitmap: small sizes stay crisp.
    images = [render(renderer, size) for size in SIZES]
    target = Path(__file__).with_name("crm-desktop.ico")
    images[-1].save(target, format="ICO", sizes=[(s, s) for s in SIZES], append_images=images[:-1])
    print(f"{target}: {target.stat().st_size} bytes, sizes {SIZES}")
    del app


if __name__ == "__main__":
    main()
