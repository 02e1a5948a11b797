"""Local news connectors: RSS and Atom feeds matched to providers by name and alias."""
