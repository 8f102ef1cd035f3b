"""The config convention shared by agents, actors and goal sampling: frozen dataclasses built from keyword arguments.

A config class is a ``@dataclasses.dataclass(frozen=True)`` that also derives from :class:`ConfigMixin`. The mixin
adds :meth:`ConfigMixin.from_kwargs`, which is how the agents and actors turn ``**config`` into their config: an
unknown key raises a ``TypeError`` that names the closest valid key, and lists read back from files or YAML become
tuples.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any, ClassVar, TypeVar

_ConfigT = TypeVar("_ConfigT", bound="ConfigMixin")


class ConfigMixin:
    """``from_kwargs`` for frozen config dataclasses (see the module docstring)."""

    shorthands: ClassVar[tuple[str, ...]] = ()
    """Keys :meth:`from_kwargs` accepts besides the fields; :meth:`_expand_shorthands` turns them into fields."""

    @classmethod
    def from_kwargs(cls: type[_ConfigT], **kwargs: Any) -> _ConfigT:
        """Build the config from keyword arguments; an unknown key raises a ``TypeError`` with the closest valid name.

        Raises:
            TypeError: a key is neither a field nor one of :attr:`shorthands`.
        """
        kwargs = cls._expand_shorthands(dict(kwargs))
        fields = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(kwargs) - set(fields))
        if unknown:
            valid = [*fields, *cls.shorthands]
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, valid, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise TypeError(f"Unknown {cls.__name__} key(s): {', '.join(hints)}. Valid keys: {', '.join(valid)}.")
        return cls(**kwargs)

    @classmethod
    def _expand_shorthands(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Replace :attr:`shorthands` in ``kwargs`` by the fields they stand for (none by default)."""
        return kwargs

    def _lists_to_tuples(self) -> None:
        """Store list-valued fields as tuples (configs read back from files or YAML hold lists); call in
        ``__post_init__``."""
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, list):
                object.__setattr__(self, field.name, tuple(value))
