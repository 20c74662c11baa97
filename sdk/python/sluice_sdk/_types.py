"""The values a plugin author handles: configuration, errors, answers, base classes.

Nothing here touches the frame layout or the host; `_frames` reads and writes the bytes,
`_runner` drives the author's plugin, `_host` calls the host imports.
"""

import re

__all__ = [
    "Config",
    "ConfigError",
    "DROP",
    "Filter",
    "Output",
    "PluginError",
    "Reject",
    "Retry",
    "Transform",
    "UNCHANGED",
]


# ---------------------------------------------------------------------------------------
# Configuration


class ConfigError(Exception):
    """A refused configuration: what is wrong and, if it is about one key, which.

    Raise it from your plugin's ``__init__``; the host then does not start the stage and
    shows ``message`` (and ``key``) to the operator.
    """

    def __init__(self, message, key=None):
        super().__init__(message)
        self.message = str(message)
        self.key = key

    def __str__(self):
        return f"{self.key}: {self.message}" if self.key is not None else self.message

    def __repr__(self):
        return f"ConfigError({self.message!r}, key={self.key!r})"

    def __eq__(self, other):
        return isinstance(other, ConfigError) and (self.message, self.key) == (other.message, other.key)

    __hash__ = Exception.__hash__


# Rust's `u64`/`i64` `FromStr`: an optional sign, then ASCII digits only (no blanks, no
# underscores, no other scripts' digits, which Python's `int()` would all take).
_INT = re.compile(r"[+-]?[0-9]+")


class Config:
    """The stage configuration: the string pairs of the stage's ``config`` table, in order.

    A key given twice counts with its last value. Call :meth:`only` first, so that a typo
    in the host configuration is an error rather than a silently ignored setting.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs=()):
        if isinstance(pairs, Config):
            pairs = pairs._pairs
        elif hasattr(pairs, "items"):
            pairs = pairs.items()
        self._pairs = [(str(k), str(v)) for k, v in pairs]

    @property
    def pairs(self):
        """All pairs, in order, as a list of ``(key, value)`` tuples."""
        return list(self._pairs)

    def get(self, key, default=None):
        """The value of ``key``, or ``default`` when it is not set."""
        for k, v in reversed(self._pairs):
            if k == key:
                return v
        return default

    def __contains__(self, key):
        return any(k == key for k, _ in self._pairs)

    def require(self, key):
        """The value of ``key``; :class:`ConfigError` when it is missing."""
        v = self.get(key)
        if v is None:
            raise ConfigError(f"missing required key `{key}`", key=key)
        return v

    def only(self, allowed=()):
        """Refuses keys other than ``allowed`` (an iterable of names; none by default)."""
        if isinstance(allowed, str):
            allowed = (allowed,)
        allowed = list(allowed)
        for k, _ in self._pairs:
            if k not in allowed:
                if not allowed:
                    raise ConfigError(f"unknown key `{k}`: this plugin takes no configuration", key=k)
                raise ConfigError(f"unknown key `{k}`; expected one of: {', '.join(allowed)}", key=k)

    def parse_int(self, key, default, *, min=None, max=None):  # noqa: A002 - read as keywords
        """The value of ``key`` as an integer (an optional sign and ASCII digits), or
        ``default`` when it is not set; :class:`ConfigError` when it does not parse or lies
        outside ``min``..``max`` (both inclusive, both optional)."""
        v = self.get(key)
        if v is None:
            return default
        if not _INT.fullmatch(v):
            raise ConfigError(f"invalid value {v!r} for `{key}`: expected an integer", key=key)
        n = int(v)
        if (min is not None and n < min) or (max is not None and n > max):
            lo = "" if min is None else f" at least {min}"
            hi = "" if max is None else f" at most {max}"
            both = " and" if lo and hi else ""
            raise ConfigError(f"invalid value {v!r} for `{key}`: expected an integer{lo}{both}{hi}", key=key)
        return n

    def parse_bool(self, key, default):
        """The value of ``key`` as a boolean, or ``default`` when it is not set. Only
        ``true`` and ``false`` are accepted, as in every Sluice SDK."""
        v = self.get(key)
        if v is None:
            return default
        if v == "true":
            return True
        if v == "false":
            return False
        raise ConfigError(f"invalid value {v!r} for `{key}`: expected `true` or `false`", key=key)

    def __repr__(self):
        return f"Config({self._pairs!r})"


# ---------------------------------------------------------------------------------------
# Errors


class PluginError(Exception):
    """An expected failure of one message; raise :class:`Retry` or :class:`Reject`."""

    #: The outcome tag of the frame layout (3 retry, 4 reject).
    _tag = 0

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = str(reason)

    def __eq__(self, other):
        return type(other) is type(self) and other.reason == self.reason

    __hash__ = Exception.__hash__

    def __repr__(self):
        return f"{type(self).__name__}({self.reason!r})"


class Retry(PluginError):
    """A transient failure: the host retries the message with backoff, then dead-letters it."""

    _tag = 3


class Reject(PluginError):
    """A permanent failure: the host dead-letters (or skips) the message without retrying."""

    _tag = 4


# ---------------------------------------------------------------------------------------
# Answers


class _Answer:
    """``UNCHANGED`` and ``DROP``: the two answers of a transform that carry nothing."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name

    def __bool__(self):
        # A filter answers True or False; returning DROP from one would otherwise read as
        # "keep" (every object is true). Refuse instead of guessing.
        raise TypeError(f"{self._name} is a transform answer; a filter returns True (keep) or False (drop)")

    def __reduce__(self):
        return self._name


#: A transform's answer: pass the input on as it is. Nothing crosses back to the host, so
#: this is the cheapest answer.
UNCHANGED = _Answer("UNCHANGED")
#: A transform's answer: emit nothing for this input.
DROP = _Answer("DROP")


class Output:
    """A message a transform emits in place of its input.

    Every field left ``None`` is inherited from the input message, so a transform that
    only rewrites the body sends only the body back.

    * ``body``: ``bytes`` (or ``bytearray``/``memoryview``), or ``str`` (sent as UTF-8).
    * ``keys``: a list of strings.
    * ``tag``: a string; ``""`` removes the input's tag.
    * ``properties``: the complete new property list, a ``dict`` or a list of
      ``(key, value)`` pairs. Start from the input's with :meth:`Message.derive`.
    * ``destination``: the name of a sink or topic of the pipeline instead of its default
      sinks.
    """

    __slots__ = ("body", "keys", "tag", "properties", "destination")

    def __init__(self, *, body=None, keys=None, tag=None, properties=None, destination=None):
        self.body = body
        self.keys = keys
        self.tag = tag
        self.properties = properties
        self.destination = destination

    def _normalized(self):
        body = self.body
        if isinstance(body, str):
            body = body.encode()
        elif body is not None:
            body = bytes(body)
        props = self.properties
        if props is not None:
            props = list(props.items()) if hasattr(props, "items") else [tuple(p) for p in props]
        keys = None if self.keys is None else list(self.keys)
        return (body, keys, self.tag, props, self.destination)

    def __eq__(self, other):
        if not isinstance(other, Output):
            return NotImplemented
        return self._normalized() == other._normalized()

    __hash__ = None

    def __repr__(self):
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__slots__ if getattr(self, name) is not None
        )
        return f"Output({fields})"


# ---------------------------------------------------------------------------------------
# Base classes


class Filter:
    """Base class of a filter plugin: keeps or drops each message.

    Subclass it in your project's ``plugin.py``::

        class RegionFilter(sluice.Filter):
            def __init__(self, config):
                config.only(["region"])
                self.region = config.require("region")

            def filter(self, msg):
                return msg.property("region") == self.region

    ``__init__(config)`` runs once per instance, with the stage's :class:`Config`; raise
    :class:`ConfigError` to refuse it. ``filter(msg)`` returns ``True`` to keep the
    message and ``False`` to drop it, or raises :class:`Retry` / :class:`Reject`.
    """

    def __init__(self, config):
        config.only([])

    def filter(self, msg):
        raise NotImplementedError(f"{type(self).__name__} must define filter(self, msg)")


class Transform:
    """Base class of a transform plugin: each message becomes zero, one or many.

    ``transform(msg)`` returns :data:`UNCHANGED` (the cheapest answer), :data:`DROP`, an
    :class:`Output`, or a list of them (in order; an empty list emits nothing), or raises
    :class:`Retry` / :class:`Reject`. ``__init__(config)`` as in :class:`Filter`.
    """

    def __init__(self, config):
        config.only([])

    def transform(self, msg):
        raise NotImplementedError(f"{type(self).__name__} must define transform(self, msg)")
