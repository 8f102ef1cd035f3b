"""Moved to :mod:`ttt_gym.ttt.wrapper`; this path keeps old imports working."""

from ttt_gym.ttt.wrapper import *  # noqa: F403
from ttt_gym.ttt.wrapper import __all__  # noqa: F401
