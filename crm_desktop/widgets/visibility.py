"""Showing a part of a screen that may not be placed yet.

A widget made visible before it has a parent becomes a window of its own: on a desktop it flashes
up and takes the keyboard focus from the window the person is typing in. Parts built in a
constructor and placed in a layout afterwards go through :func:`shown_if` instead of
``setVisible``: while unplaced it only ever hides, and the layout shows it when it places it."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def shown_if(widget: QWidget, visible: bool) -> None:
    if visible and widget.parent() is None:
        return  # shown with its parent once placed
    widget.setVisible(visible)
