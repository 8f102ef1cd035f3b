"""Moved to :mod:`ttt_gym.ttt.critics`; this path keeps old imports working."""

from ttt_gym.ttt.critics import *  # noqa: F403
from ttt_gym.ttt.critics import __all__  # noqa: F401
