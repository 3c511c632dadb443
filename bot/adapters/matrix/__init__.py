"""The Matrix platform: a matrix-nio client implementing `ChatPlatform`."""

from bot.adapters.matrix.client import MatrixAdapter
from bot.adapters.matrix.settings import MatrixSettings

__all__ = ["MatrixAdapter", "MatrixSettings"]
