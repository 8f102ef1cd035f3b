"""Privileged experts and human-like demonstrators for every env of the suite (``ttt_gym.experts``).

Each env family has one module here with two functions, ``make_expert(env_id)`` and
``make_demonstrator(env_id, rng=None)``; this module dispatches on the env id.
"""

from __future__ import annotations

import importlib
from typing import Any

from stable_baselines3.common.policies import BasePolicy

from ttt_envs import ENV_IDS, MINIGRID_MEMORY, NAMESPACE, PIXEL_ENV_IDS, PIXEL_ENVS
from ttt_envs.experts.base import Demonstrator, ScriptedExpert, StatePolicyExpert

_MODULES: dict[str, str] = {
    f"{NAMESPACE}/MysteryPath-v0": "ttt_envs.experts.mystery_path",
    f"{NAMESPACE}/CoinSearch-v0": "ttt_envs.experts.coin_search",
    f"{NAMESPACE}/ConfoundedControls-v0": "ttt_envs.experts.confounded_controls",
    f"{NAMESPACE}/MaskedCartPole-v1": "ttt_envs.experts.masked",
    f"{NAMESPACE}/MaskedAcrobot-v1": "ttt_envs.experts.masked",
    **{f"{NAMESPACE}/{name}": "ttt_envs.experts.minigrid_memory" for name in MINIGRID_MEMORY},
}
# A pixel variant has its state env's expert (it reads the privileged state) and demonstrator (decoding the images).
_MODULES.update({f"{NAMESPACE}/{name}": _MODULES[f"{NAMESPACE}/{state}"] for name, state in PIXEL_ENVS.items()})


def _module_for(env_id: str) -> Any:
    full_id = env_id if "/" in env_id else f"{NAMESPACE}/{env_id}"
    if full_id not in _MODULES:
        raise ValueError(f"No expert for env id {env_id!r}. Experts exist for: {', '.join(ENV_IDS + PIXEL_ENV_IDS)}.")
    return importlib.import_module(_MODULES[full_id]), full_id


def make_expert(env_id: str) -> BasePolicy:
    """The privileged expert for ``env_id``: an SB3 policy acting on the ``PrivilegedObservation`` dict.

    Example:
        >>> env = PrivilegedObservation(gym.make("ttt_gym/MysteryPath-v0"))
        >>> expert = make_expert("ttt_gym/MysteryPath-v0")
        >>> obs, _ = env.reset(seed=0)
        >>> action, _ = expert.predict(obs, deterministic=True)
    """
    module, full_id = _module_for(env_id)
    return module.make_expert(full_id)


def make_demonstrator(env_id: str, rng: Any = None) -> Demonstrator:
    """A history-based heuristic for ``env_id`` that acts on the partial observation only."""
    module, full_id = _module_for(env_id)
    return module.make_demonstrator(full_id, rng=rng)


__all__ = ["Demonstrator", "ScriptedExpert", "StatePolicyExpert", "make_demonstrator", "make_expert"]
