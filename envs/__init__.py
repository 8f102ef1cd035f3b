"""The ttt_gym memory-environment suite, importable as ``ttt_envs``.

Importing this module must stay cheap and must not import ``gymnasium`` at top level beyond its
registration module: gymnasium calls :func:`register_envs` through its plugin entry point while it is
itself still being imported.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "ttt_gym"

#: Registered ids (without namespace) -> entry point. Each env owns its horizon (its ``max_steps``
#: argument truncates the episode), so no ``TimeLimit`` wrapper is registered on top.
ENV_SPECS: dict[str, str] = {
    "MysteryPath-v0": "ttt_envs.mystery_path:MysteryPathEnv",
    "CoinSearch-v0": "ttt_envs.coin_search:CoinSearchEnv",
    "ConfoundedControls-v0": "ttt_envs.confounded_controls:ConfoundedControlsEnv",
    "MaskedCartPole-v1": "ttt_envs.masked:MaskedCartPoleEnv",
    "MaskedAcrobot-v1": "ttt_envs.masked:MaskedAcrobotEnv",
}

#: MiniGrid's Memory tasks under our contract: our id (without namespace) -> MiniGrid's registered id. The module
#: that imports ``minigrid`` is loaded only when one of them is made.
MINIGRID_MEMORY: dict[str, str] = {
    f"MiniGridMemory{suffix}-v0": f"MiniGrid-Memory{suffix}-v0"
    for suffix in ("S7", "S9", "S11", "S13", "S13Random", "S17Random")
}
ENV_SPECS.update({name: "ttt_envs.minigrid_memory:MiniGridMemoryEnv" for name in MINIGRID_MEMORY})

#: Keyword arguments registered with an id (``gym.make`` arguments override them).
ENV_KWARGS: dict[str, dict[str, Any]] = {
    name: {"minigrid_id": minigrid_id} for name, minigrid_id in MINIGRID_MEMORY.items()
}

#: Fully qualified ids of the state-observation envs, in registration order.
ENV_IDS: tuple[str, ...] = tuple(f"{NAMESPACE}/{name}" for name in ENV_SPECS)

#: Pixel-observation variants (``obs_type="pixels"``, a 32 x 32 RGB image of what the agent may see): our id (without
#: namespace) -> the state id it renders. They are registered too, but kept out of :data:`ENV_IDS`, whose users (the
#: state tables, the CLI's choices, the expert thresholds) are about the state observations.
PIXEL_ENVS: dict[str, str] = {
    "MysteryPathPixels-v0": "MysteryPath-v0",
    "CoinSearchPixels-v0": "CoinSearch-v0",
    "ConfoundedControlsPixels-v0": "ConfoundedControls-v0",
}

#: Fully qualified ids of the pixel variants, in registration order.
PIXEL_ENV_IDS: tuple[str, ...] = tuple(f"{NAMESPACE}/{name}" for name in PIXEL_ENVS)


def register_envs() -> None:
    """Register every id under the ``ttt_gym/`` namespace; safe to call more than once."""
    from gymnasium.envs.registration import register, registry

    specs = [(name, entry_point, ENV_KWARGS.get(name, {})) for name, entry_point in ENV_SPECS.items()]
    specs += [(name, ENV_SPECS[state_name], {"obs_type": "pixels"}) for name, state_name in PIXEL_ENVS.items()]
    for name, entry_point, kwargs in specs:
        env_id = f"{NAMESPACE}/{name}"
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, kwargs=kwargs)


__all__ = ["ENV_IDS", "NAMESPACE", "PIXEL_ENV_IDS", "register_envs"]
