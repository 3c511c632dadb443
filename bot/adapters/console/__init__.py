"""The embedded console platform: in memory, for the demo, the interactive prompt and tests."""

from bot.adapters.console.platform import ConsolePlatform, ConsoleRoom, PostedMessage

__all__ = ["ConsolePlatform", "ConsoleRoom", "PostedMessage"]
