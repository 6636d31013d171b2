"""posplugin: influence-aware service prompts at the till, queue pain points on the floor."""

__version__ = "0.1.0"
