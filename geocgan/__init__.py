"""geocgan: ensembles of subsurface fields that honour well data, by pixel-constrained cGANs."""

__version__ = "0.1.0"
