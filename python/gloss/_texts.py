"""_texts: Python strings as the UTF-8 `const char *const *` arrays the library reads."""

import ctypes
import operator
import os


def utf8_array(items, what="texts", allow_empty=False):
    """A ctypes array of UTF-8 C strings from a list (or other non-string
    iterable) of str. TypeError for anything else (a lone str, bytes, None, a
    number), ValueError for an empty list, a NUL character or text that is
    not valid Unicode (a lone surrogate). Returns (array, count)."""
    if isinstance(items, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a list of str, not a single {type(items).__name__} "
                        f"(wrap one text in a list: [text])")
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"{what} must be a list of str, not {type(items).__name__}") from None
    if not items and not allow_empty:
        raise ValueError(f"{what} is empty: give at least one text")
    encoded = []
    for i, t in enumerate(items):
        if not isinstance(t, str):
            hint = " (decode bytes first: b.decode('utf-8'))" if isinstance(t, (bytes, bytearray)) else ""
            raise TypeError(f"{what}[{i}] is {type(t).__name__}, not str{hint}")
        if "\0" in t:
            raise ValueError(f"{what}[{i}] contains a NUL character")
        try:
            encoded.append(t.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise ValueError(f"{what}[{i}] is not valid Unicode: {e.reason} at position {e.start}") from None
    array = (ctypes.c_char_p * len(encoded))(*encoded)
    return array, len(encoded)


def path_bytes(path, what="path"):
    """A file system path (str or os.PathLike) as bytes for the library."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a str or os.PathLike, not {type(path).__name__}")
    path = os.fsencode(path)
    if b"\0" in path:
        raise ValueError(f"{what} contains a NUL character")
    return path


def positive_int(value, what, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if value <= 0:
        raise ValueError(f"{what} must be positive, not {value}")
    return value
