"""A sample plugin whose hook always raises: the store must skip it."""

from posplugin.hookspecs import hookimpl

@hookimpl
def service_level(tier, service_level, followers, engagement_rate, engaged_reach, settings):
    raise ValueError("this plugin is broken")
