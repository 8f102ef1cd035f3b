"""Moved to :mod:`ttt_gym.ttt.selection`; this path keeps old imports working."""

from ttt_gym.ttt.selection import *  # noqa: F403
from ttt_gym.ttt.selection import __all__  # noqa: F401
