"""Slack adapter: Socket Mode or signed HTTP events in, Web API calls out."""

from bot.adapters.slack.app import SlackAdapter
from bot.adapters.slack.limits import Rate, RateLimiter

__all__ = ["Rate", "RateLimiter", "SlackAdapter"]
