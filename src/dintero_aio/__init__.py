"""dintero-aio: an async SDK for Dintero's management-auth API."""

from ._version import __version__

__all__ = ["__version__"]
