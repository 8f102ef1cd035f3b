"""The hyperparameters every sequence actor has, and the checks the actors' own configs share.

Each actor's config (``GRUActorConfig``, ``TransformerActorConfig``...) extends :class:`ActorConfig` next to the actor,
and is built with :meth:`ActorConfig.from_kwargs` (the shared :class:`ttt_gym._config.ConfigMixin`).
"""

from __future__ import annotations

import dataclasses

from ttt_gym._config import ConfigMixin

__all__ = ["ENCODERS", "ActorConfig", "check_grad_stop", "check_heads"]

#: How an actor reads its observations: ``"flat"`` (the flattened, bound-normalised vector) or ``"cnn"`` (a small
#: convolutional encoder of image observations, :class:`ttt_gym.policies.blocks.ImageEncoder`).
ENCODERS: tuple[str, ...] = ("flat", "cnn")


@dataclasses.dataclass(frozen=True)
class ActorConfig(ConfigMixin):
    """Hyperparameters every actor has.

    Attributes:
        embed_dim: width of the token embedding and of the model's residual stream.
        previous_action: feed the previous executed action (one-hot for Discrete) with each observation.
        normalize_observations: map Box observations with finite bounds to [-1, 1] (infinite bounds are left alone).
        observation_delta: also feed the change of the (normalised) observation since the previous step, times this
            factor (0, the default, leaves it out; zeros at an episode start). Where the task is to infer a hidden
            mapping from what each action did (Confounded Controls: the displacement a command produced), this hands
            the first layer the displacement instead of leaving it to attention or recurrence between two tokens.
            Choose the factor so that a typical change is of order 1 (``1 / step_length``, 20 on Confounded Controls).
            The trainers default it, for actors that are not :attr:`memoryless`, to the env's
            ``recommended_observation_delta`` (3 on Mystery Path, 20 on Confounded Controls, else 0).
        encoder: ``"flat"`` (the default) feeds the flattened observation, normalised by its bounds; ``"cnn"`` feeds
            the features of a small CNN (:class:`~ttt_gym.policies.blocks.ImageEncoder`, trained with the actor) of an
            image observation, scaled to [0, 1] by SB3's ``preprocess_obs`` (``normalize_observations`` does not
            apply). The features take the observation's place in the input: ``observation_delta`` is then the change
            of the features, and the previous action is concatenated as with ``"flat"``.
        encoder_features: width of the CNN's feature vector (``encoder="cnn"``).
        log_std_init: initial log standard deviation of the Gaussian head (Box actions; state-independent, learned).
        seed: seeds the weight initialisation and the sampling of stochastic actions in ``predict``.
    """

    embed_dim: int = 64
    previous_action: bool = True
    normalize_observations: bool = True
    observation_delta: float = 0.0
    encoder: str = "flat"
    encoder_features: int = 64
    log_std_init: float = 0.0
    seed: int = 0

    @property
    def memoryless(self) -> bool:
        """True for the floors that act on the current step alone (the MLP, attention over one token).

        The trainers give them no default ``observation_delta``: the change since the last step would hand them one
        step of the past.
        """
        return False

    def __post_init__(self) -> None:
        self._lists_to_tuples()
        if self.embed_dim < 1:
            raise ValueError(f"embed_dim must be positive, got {self.embed_dim}.")
        if not (self.observation_delta >= 0.0 and self.observation_delta < float("inf")):
            raise ValueError(
                f"observation_delta is the factor on the observation-change input and must be a finite number >= 0 "
                f"(0 turns the input off), got {self.observation_delta!r}."
            )
        if self.encoder not in ENCODERS:
            raise ValueError(
                f"encoder must be one of {ENCODERS} ('cnn' for image observations such as "
                f"ttt_gym/MysteryPathPixels-v0), got {self.encoder!r}."
            )
        if self.encoder_features < 1:
            raise ValueError(
                f"encoder_features is the width of the CNN's output and must be positive, got {self.encoder_features}."
            )


def check_heads(embed_dim: int, num_heads: int, *, rotary: bool = False) -> None:
    """Raise unless ``num_heads`` attention heads split ``embed_dim`` (into even widths with ``rotary``)."""
    if num_heads < 1 or embed_dim % num_heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be a positive multiple of num_heads ({num_heads}).")
    if rotary and (embed_dim // num_heads) % 2:
        raise ValueError(f"The head width embed_dim / num_heads = {embed_dim // num_heads} must be even (rotary).")


def check_grad_stop(threshold: float, rule: str) -> None:
    """Raise unless ``(grad_stop_threshold, grad_stop_rule)`` is a valid gradient-stopping setting."""
    if threshold < 0:
        raise ValueError(f"grad_stop_threshold must be >= 0 (0 disables gradient stopping), got {threshold}.")
    if rule not in ("absolute", "relative"):
        raise ValueError(f"grad_stop_rule must be 'absolute' or 'relative', got {rule!r}.")
