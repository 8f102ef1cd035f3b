"""Moved to :mod:`ttt_gym.ttt.losses`; this path keeps old imports working."""

from ttt_gym.ttt.losses import *  # noqa: F403
from ttt_gym.ttt.losses import __all__  # noqa: F401
