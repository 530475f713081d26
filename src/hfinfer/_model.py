"""The base class of every generated type: a `dict` whose fields are also attributes.

Like huggingface_hub's `BaseInferenceType`, every decoded input or output *is* a dict, so code
written for plain JSON keeps working (`isinstance(out, dict)`, `json.dumps(out)`, `out == {...}`,
`out["label"]`), while typed code reads attributes (`out.label`).

A value lives twice: in the dict (items) and in the instance `__dict__` (attributes). Both are
kept in sync on every write (`out.x = …`, `out["x"] = …`, `update()`, `del`, …). Storing the
attribute in the instance `__dict__` rather than computing it from the items keeps attribute
reads at plain-object speed and lets `@dataclass` work unchanged (its field defaults are class
attributes, which would hide a `__getattr__` fallback). The decoder fills both with two C-level
copies and never runs `__init__` (see `_decoding.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_DICT_NAMES = frozenset(dir(dict))
"""Names an item must not take as an attribute: it would hide a dict method (`items`, `get`…)."""

_dict_setitem = dict.__setitem__
_dict_delitem = dict.__delitem__
_object_setattr = object.__setattr__


def is_attribute(key: object) -> bool:
    """Whether item `key` is mirrored as an attribute."""
    return isinstance(key, str) and key.isidentifier() and key not in _DICT_NAMES


class InferenceType(dict[str, Any]):
    """A decoded input or output of a task: a dict whose fields are also attributes.

    Fields are attributes (`out.label`) and items (`out["label"]`). Fields the server sends that
    the schema does not know are kept as extra items, and as attributes too (unless the name is
    that of a dict method, e.g. `items`); they appear in `to_dict()`, `json.dumps()` and `repr()`.
    Optional fields the server omits are `None`.
    """

    __hash__ = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Put these in the subclass's own namespace so that `@dataclass`, which never replaces
        # a method a class defines itself, keeps them (repr with extra fields, eq with dicts).
        cls.__repr__ = InferenceType.__repr__  # type: ignore[method-assign]
        cls.__eq__ = InferenceType.__eq__  # type: ignore[method-assign]

    # -- writes keep items and attributes in sync ----------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        _object_setattr(self, name, value)
        _dict_setitem(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name in self:
            _dict_delitem(self, name)

    def __setitem__(self, key: str, value: Any) -> None:
        _dict_setitem(self, key, value)
        if is_attribute(key):
            _object_setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        _dict_delitem(self, key)
        self.__dict__.pop(key, None)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """`dict.update`, mirroring attributes."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Iterable[tuple[str, Any]] | Mapping[str, Any]) -> InferenceType:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        self.__dict__.pop(key, None)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self.__dict__.pop(key, None)
        return key, value

    def clear(self) -> None:
        dict.clear(self)
        self.__dict__.clear()

    # -- reads -----------------------------------------------------------------------------------

    def to_dict(self, *, exclude_none: bool = False) -> dict[str, Any]:
        """A plain, JSON-ready dict (nested types converted too)."""
        return {
            key: _plain(value, exclude_none)
            for key, value in self.items()
            if not (exclude_none and value is None)
        }

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InferenceType) and type(self) is not type(other):
            return False
        if isinstance(other, dict):
            return dict.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.items())
        return f"{type(self).__name__}({fields})"

    def __copy__(self) -> InferenceType:
        new = dict.__new__(type(self))
        dict.update(new, self)
        new.__dict__.update(self.__dict__)
        return new


def _plain(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, InferenceType):
        return value.to_dict(exclude_none=exclude_none)
    if isinstance(value, (list, tuple)):
        return [_plain(v, exclude_none) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, exclude_none) for k, v in value.items()}
    return value
