"""The platforms customers link (Instagram, TikTok, YouTube, and those a chain
adds through the ``platforms`` hook) and the provider exports head office
reads. A chain's own platform subclasses :class:`Platform`."""

from .oauth import Platform, PlatformError, Token

__all__ = ["Platform", "PlatformError", "Token"]
