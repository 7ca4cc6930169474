"""Shared widgets: banners, empty states, search box, notification bell, sidebar, QR view."""
