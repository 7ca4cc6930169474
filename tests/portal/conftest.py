"""The portal's browser tests drive an office desktop too: the desktop tests' fixtures and hooks."""

from tests.desktop.conftest import (  # noqa: F401  (fixtures and hooks are found by name)
    desk,
    isolated_desktop_state,
    no_stray_windows,
    pytest_runtest_call,
    qloop,
)
