"""The CRM's shared server: the only door to the data."""

__version__ = "0.1.0"
