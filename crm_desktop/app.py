"""Entry point of crm-desktop (built out by the desktop foundation)."""


def main() -> int:
    raise SystemExit("crm-desktop is not built yet")
