"""Light and dark Qt style sheets."""
