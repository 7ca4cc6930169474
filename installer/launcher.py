"""Entry script of the frozen crm-desktop (PyInstaller needs a file, not a console-script entry point)."""

import sys

from crm_desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
