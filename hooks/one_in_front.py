"""Store rule "one in front": a lane is long as soon as more than one customer
waits behind the one being served, whatever the baseline says.

``length`` counts everyone in the lane's queue including the customer being
served, so "more than one behind" is a length of three or more.
"""

from posplugin.hookspecs import hookimpl


@hookimpl
def queue_status(lane, length, normal, status, settings):
    if length >= 3:
        return "long"
    return None
