"""Test support: stand-ins for servers this machine cannot install (not part of the product)."""
