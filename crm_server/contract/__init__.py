"""The wire format: pydantic models of everything that crosses the network.

No SQLAlchemy and no FastAPI here: the desktop imports these modules too."""
