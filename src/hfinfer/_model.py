"""The base class of every generated type: attributes, item access, extra fields, `to_dict()`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class InferenceType:
    """A decoded input or output of a task.

    Fields are attributes (`out.label`) and items (`out["label"]`, for code written against the
    reference client). Fields the server sends that the schema does not know are kept as extra
    attributes and appear in `to_dict()` and `repr()`; optional fields it omits are `None`.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Put these in the subclass's own namespace so that `@dataclass`, which never replaces
        # a method a class defines itself, keeps them (repr with extra fields, eq with dicts).
        cls.__repr__ = InferenceType.__repr__  # type: ignore[method-assign]
        cls.__eq__ = InferenceType.__eq__  # type: ignore[method-assign]

    def __getitem__(self, key: str) -> Any:
        try:
            return self.__dict__[key]
        except KeyError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def keys(self) -> list[str]:
        return list(self.__dict__)

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)

    def to_dict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """A plain, JSON-ready dict (nested types converted too)."""
        return {
            key: _plain(value, exclude_none)
            for key, value in self.__dict__.items()
            if not (exclude_none and value is None)
        }

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InferenceType):
            return type(self) is type(other) and self.__dict__ == other.__dict__
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields})"


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, InferenceType):
        return value.to_dict(exclude_none=exclude_none)
    if isinstance(value, (list, tuple)):
        return [_plain(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, exclude_none) for k, v in value.items()}
    return value
