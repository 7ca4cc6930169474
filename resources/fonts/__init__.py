"""Fonts bundled for the PDFs (DejaVu Sans: prints Latin, Greek and Cyrillic; licence in LICENSE-DejaVu.txt)."""
