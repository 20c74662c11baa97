"""The bulk frame layout (``wit/FRAMES.md``, version 1), both directions.

The host sends a batch as message frames back to back; every frame starts with a fixed
48-byte header of lengths, so :class:`Message` unpacks the header once and jumps to a field
only when the author asks for it. The answer is an outcome buffer: ``SLO\\x01``, the
count, one tag byte per message (plus what retry, reject and replaced carry).

The writers of frames and the readers of outcomes exist for native tests
(:mod:`sluice_sdk.testing`), which check an answer as the host does.
"""

import struct

from ._types import Output

HEADER_LEN = 48
OUTCOME_MAGIC = b"SLO\x01"

TAG_UNCHANGED = 0
TAG_DROP = 1
TAG_REPLACED = 2
TAG_RETRY = 3
TAG_REJECT = 4

OUT_KEYS = 1
OUT_TAGS = 2
OUT_PROPERTIES = 4
OUT_BODY = 8
OUT_DESTINATION = 16
_OUT_ALL = 31

FLAG_HAS_TAGS = 1

# The header as the batch loop reads it: frame_len, flags, reconsume_count, message_id_len,
# keys_len, tags_len, properties_len, body_len. The two i64 fields (queue_offset,
# born_timestamp_ms) are skipped and read only when asked for: unpacked, they would be
# two large ints allocated per message, a fifth of the loop's cost in the component.
HEADER = struct.Struct("<II16xIIIIII")
# The whole header, as the host writes it.
FULL_HEADER = struct.Struct("<IIqqIIIIII")
_I64 = struct.Struct("<q").unpack_from
_U32 = struct.Struct("<I")
_u32_at = _U32.unpack_from
_pack_u32 = _U32.pack


class MalformedBatch(Exception):
    """A batch or answer that does not follow the layout: what is wrong, at which byte."""

    def __init__(self, offset, what):
        super().__init__(f"{what} (at byte {offset})")
        self.offset = offset
        self.what = what


class BatchInfo:
    """What every message of a batch shares: ``topic``, ``queue_id``, ``pipeline``, ``stage``."""

    __slots__ = ("topic", "queue_id", "pipeline", "stage")

    def __init__(self, topic="test", queue_id=0, pipeline="test", stage="test"):
        self.topic = topic
        self.queue_id = queue_id
        self.pipeline = pipeline
        self.stage = stage

    def __repr__(self):
        return f"BatchInfo(topic={self.topic!r}, queue_id={self.queue_id}, pipeline={self.pipeline!r}, stage={self.stage!r})"


# How `Message.property()` and its siblings find an entry in a properties block.
#
# An entry is `u32 len` + name + `u32 len` + value, so a name's entry begins with the
# bytes `pat` = `u32 len(name)` + name (`_patterns`). Those bytes may also occur inside a
# value or a longer name; an occurrence is an entry only when walking the entries from the
# block's start lands on it. Producers tend to set the same properties in the same order,
# so the walk is remembered: `_guesses[name]` holds the bytes a block began with, up to and
# including `pat`, when the name's entry was last found after a walk (just `pat` when it
# was the first entry). A block that begins with those bytes has its entry at the same
# place, because the walk reads nothing else; one `startswith` finds it. (Every compare is
# bounded by the block's end: bytes of the body must not complete a match.)
_patterns = {}  # name -> pat
_guesses = {}  # name -> (bytes the block begins with, their length)
_values = {}  # value -> `u32 len` + UTF-8 bytes, for `property_is`
_CACHED_NAMES = 256


def _pattern(name):
    raw = name.encode()
    pat = _pack_u32(len(raw)) + raw
    if len(_patterns) < _CACHED_NAMES:
        _patterns[name] = pat
    return pat


def _guess(name):
    pat = _patterns.get(name) or _pattern(name)
    g = (pat, len(pat))
    if len(_guesses) < _CACHED_NAMES:
        _guesses[name] = g
    return g


def _value(value):
    raw = value.encode()
    p = _pack_u32(len(raw)) + raw
    if len(_values) < _CACHED_NAMES:
        _values[value] = p
    return p


def _locate(buf, start, end, name):
    """The offset of the value (its `u32 len`) of the entry of property `name` in the
    properties block `buf[start:end]`, or -1 when there is none; remembers the block's
    beginning for `name` (see above)."""
    pat = _patterns.get(name) or _pattern(name)
    i = buf.find(pat, start, end)
    pos = start
    while i >= 0:
        while pos < i:
            pos += 4 + _u32_at(buf, pos)[0]
            pos += 4 + _u32_at(buf, pos)[0]
        if pos == i:
            glen = i - start + len(pat)
            old = _guesses.get(name)
            # A guess of the same length that missed means the entries before differ in
            # content from message to message (an id, say): a new one would miss as well.
            if old is None and len(_guesses) < _CACHED_NAMES or old is not None and old[1] != glen:
                _guesses[name] = (buf[start : i + len(pat)], glen)
            return i + len(pat)
        i = buf.find(pat, pos, end)
    return -1


class Message:
    """One message, read in place from the batch the host sent.

    Every field is decoded when it is read, not before: a filter that looks at one
    property pays for that property only. Reading a field twice decodes it twice, so keep
    what you use in a local variable. Fields are read-only. A Message is valid during the
    call it was passed to and for as long as you keep it.
    """

    # The buffer, the frame's offset in it, its header (as `HEADER` reads it), the batch
    # info. The batch loop moves one Message from frame to frame (two slot stores instead
    # of an object per message) unless the plugin kept a reference to it, in which case
    # that one stays on its frame and the loop takes a new one.
    __slots__ = ("_buf", "_at", "_h", "_batch")

    def __init__(self, buf, at, header, batch):
        self._buf = buf
        self._at = at
        self._h = header
        self._batch = batch

    # -- scalar fields ------------------------------------------------------------------

    @property
    def queue_offset(self):
        """The position of the message in its queue (int)."""
        return _I64(self._buf, self._at + 8)[0]

    @property
    def born_timestamp_ms(self):
        """When the producer created the message, ms since the Unix epoch (int)."""
        return _I64(self._buf, self._at + 16)[0]

    @property
    def reconsume_count(self):
        """How many times this stage already retried the message (int)."""
        return self._h[2]

    @property
    def batch(self):
        """What the batch shares: ``.topic``, ``.queue_id``, ``.pipeline``, ``.stage``."""
        return self._batch

    @property
    def topic(self):
        """The RocketMQ topic the message was consumed from."""
        return self._batch.topic

    @property
    def queue_id(self):
        """The queue id within the topic."""
        return self._batch.queue_id

    # -- variable fields ----------------------------------------------------------------

    @property
    def message_id(self):
        """The RocketMQ message id (str)."""
        s = self._at + HEADER_LEN
        return self._buf[s : s + self._h[3]].decode()

    @property
    def keys(self):
        """The message keys, in order (a new list of str)."""
        h = self._h
        s = self._at + HEADER_LEN + h[3]
        return _str_list(self._buf, s, s + h[4])

    @property
    def key(self):
        """The first key, or ``None``."""
        h = self._h
        if not h[4]:
            return None
        s = self._at + HEADER_LEN + h[3]
        n = _u32_at(self._buf, s)[0]
        return self._buf[s + 4 : s + 4 + n].decode()

    @property
    def tag(self):
        """The tag, or ``None`` when the message has none (``""`` is a tag)."""
        h = self._h
        if not h[1] & FLAG_HAS_TAGS:
            return None
        s = self._at + HEADER_LEN + h[3] + h[4]
        return self._buf[s : s + h[5]].decode()

    @property
    def properties(self):
        """The user properties as a new ``dict``, in the order the producer set them.

        RocketMQ keeps properties in a map, so names are unique; should a name come twice,
        the first value counts, as in :meth:`property`.
        """
        h = self._h
        s = self._at + HEADER_LEN + h[3] + h[4] + h[5]
        items = _str_list(self._buf, s, s + h[6])
        d = {}
        for i in range(0, len(items) - 1, 2):
            d.setdefault(items[i], items[i + 1])
        return d

    @property
    def body(self):
        """The body (bytes; possibly empty, not necessarily UTF-8)."""
        h = self._h
        e = self._at + h[0]
        return self._buf[e - h[7] : e]

    def body_str(self):
        """The body as text, or ``None`` when it is not UTF-8."""
        h = self._h
        e = self._at + h[0]
        try:
            return self._buf[e - h[7] : e].decode()
        except UnicodeDecodeError:
            return None

    @property
    def body_len(self):
        """The length of the body in bytes, without copying it."""
        return self._h[7]

    def derive(self, **fields):
        """An :class:`Output` that starts from this message's properties (a ``dict`` you may
        change), with any other fields given here, so that a transform can add or
        override one property rather than replace the list::

            out = msg.derive()
            out.properties["processed-by"] = "me"
            return out
        """
        out = Output(**fields)
        if out.properties is None:
            out.properties = self.properties
        return out

    # The three lookups below repeat one search rather than share a helper: a call and
    # its returned tuple would add a fifth to their cost inside the component. The
    # properties block ends where the body begins, `body_len` before the frame's end.

    def has_property(self, name):
        """Whether the message has the user property ``name``, without decoding it."""
        h = self._h
        buf = self._buf
        end = self._at + h[0] - h[7]
        start = end - h[6]
        try:
            g = _guesses[name][0]
        except KeyError:
            g = _guess(name)[0]
        return buf.startswith(g, start, end) or _locate(buf, start, end, name) >= 0

    def property_is(self, name, value):
        """Whether the user property ``name`` is set and equals ``value``: the same as
        ``msg.property(name) == value``, without decoding the value (the bytes are compared
        in place), so the cheapest test of a property."""
        h = self._h
        buf = self._buf
        end = self._at + h[0] - h[7]
        start = end - h[6]
        try:
            g, glen = _guesses[name]
        except KeyError:
            g, glen = _guess(name)
        if buf.startswith(g, start, end):
            v = start + glen
        else:
            v = _locate(buf, start, end, name)
            if v < 0:
                return False
        try:
            return buf.startswith(_values[value], v, end)
        except KeyError:
            return buf.startswith(_value(value), v, end)

    # Defined last: inside the class body this name hides the builtin `property`.
    def property(self, name, default=None):
        """The value of the user property ``name`` (str), or ``default`` when it is absent.

        Finds the name's bytes in the properties block without decoding the other
        properties. To compare with a constant, :meth:`property_is` is cheaper.
        """
        h = self._h
        buf = self._buf
        end = self._at + h[0] - h[7]
        start = end - h[6]
        try:
            g, glen = _guesses[name]
        except KeyError:
            g, glen = _guess(name)
        if buf.startswith(g, start, end):
            v = start + glen
        else:
            v = _locate(buf, start, end, name)
            if v < 0:
                return default
        return buf[v + 4 : v + 4 + _u32_at(buf, v)[0]].decode()

    def __repr__(self):
        return f"Message(queue_offset={self.queue_offset}, message_id={self.message_id!r})"


def _str_list(buf, pos, end):
    """The strings of a keys or properties block (each ``u32 len`` + UTF-8 bytes)."""
    out = []
    while pos < end:
        n = _u32_at(buf, pos)[0]
        pos += 4
        if pos + n > end:
            raise MalformedBatch(pos, "keys or properties block is malformed")
        out.append(buf[pos : pos + n].decode())
        pos += n
    return out


# ---------------------------------------------------------------------------------------
# Outcomes (plugin -> host)


def failure(tag, reason):
    """The bytes of a retry (3) or reject (4) outcome."""
    r = reason.encode("utf-8", "replace")
    return bytes((tag,)) + _pack_u32(len(r)) + r


def _text(value, what):
    if type(value) is not str:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value.encode()


def _block(strings, what):
    parts = []
    for s in strings:
        b = _text(s, what)
        parts.append(_pack_u32(len(b)))
        parts.append(b)
    return b"".join(parts)


def encode_output(o):
    """One output of a replaced outcome: the field flags, then each field present."""
    if not isinstance(o, Output):
        raise TypeError(f"a transform returns Output objects, not {type(o).__name__}")
    flags = 0
    parts = [b""]
    if o.keys is not None:
        if isinstance(o.keys, (str, bytes)):
            raise TypeError("Output.keys must be a list of str, not a single string")
        blk = _block(o.keys, "an Output key")
        flags |= OUT_KEYS
        parts += (_pack_u32(len(blk)), blk)
    if o.tag is not None:
        t = _text(o.tag, "Output.tag")
        flags |= OUT_TAGS
        parts += (_pack_u32(len(t)), t)
    if o.properties is not None:
        props = o.properties
        items = props.items() if hasattr(props, "items") else props
        flat = []
        for k, v in items:
            flat += (k, v)
        blk = _block(flat, "an Output property name and value")
        flags |= OUT_PROPERTIES
        parts += (_pack_u32(len(blk)), blk)
    if o.body is not None:
        body = o.body
        if type(body) is not bytes:
            if isinstance(body, str):
                body = body.encode()
            elif isinstance(body, (bytearray, memoryview)):
                body = bytes(body)
            else:
                raise TypeError(f"Output.body must be bytes or str, not {type(body).__name__}")
        flags |= OUT_BODY
        parts += (_pack_u32(len(body)), body)
    if o.destination is not None:
        d = _text(o.destination, "Output.destination")
        flags |= OUT_DESTINATION
        parts += (_pack_u32(len(d)), d)
    parts[0] = bytes((flags,))
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# Writing batches and reading outcomes (native tests)


def encode_frame(
    *,
    queue_offset=0,
    born_timestamp_ms=0,
    reconsume_count=0,
    message_id="",
    keys=(),
    tag=None,
    properties=(),
    body=b"",
):
    """One message frame, as the host writes it. ``properties``: dict or pairs."""
    mid = message_id.encode()
    kb = b"".join(_pack_u32(len(k.encode())) + k.encode() for k in keys)
    tb = b"" if tag is None else tag.encode()
    items = properties.items() if hasattr(properties, "items") else properties
    pb = b"".join(_pack_u32(len(k.encode())) + k.encode() + _pack_u32(len(v.encode())) + v.encode() for k, v in items)
    body = body.encode() if isinstance(body, str) else bytes(body)
    lens = (len(mid), len(kb), len(tb), len(pb), len(body))
    header = FULL_HEADER.pack(
        HEADER_LEN + sum(lens),
        FLAG_HAS_TAGS if tag is not None else 0,
        queue_offset,
        born_timestamp_ms,
        reconsume_count,
        *lens,
    )
    return header + mid + kb + tb + pb + body


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def u8(self, what):
        if self.pos >= len(self.buf):
            raise MalformedBatch(self.pos, f"buffer ends before {what}")
        self.pos += 1
        return self.buf[self.pos - 1]

    def u32(self, what):
        if self.pos + 4 > len(self.buf):
            raise MalformedBatch(self.pos, f"buffer ends before {what}")
        self.pos += 4
        return _u32_at(self.buf, self.pos - 4)[0]

    def sized(self, what):
        n = self.u32(what)
        if self.pos + n > len(self.buf):
            raise MalformedBatch(self.pos, f"{what} of {n} bytes runs past the end of the buffer")
        self.pos += n
        return bytes(self.buf[self.pos - n : self.pos])

    def text(self, what):
        at = self.pos
        raw = self.sized(what)
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise MalformedBatch(at, f"{what} is not valid UTF-8") from None


def _read_block(raw, per_item, what):
    r = _Reader(raw)
    out = []
    while r.pos < len(raw):
        out.append(tuple(r.text(what) for _ in range(per_item)) if per_item > 1 else r.text(what))
    return out


def decode_outcomes(buf, count, *, filter_only=False):
    """Reads an outcome buffer as the host does (every check the host makes on its shape),
    for a batch of ``count`` messages: a list of ``UNCHANGED``, ``DROP``, ``Retry``,
    ``Reject`` or a list of :class:`Output` (a replaced outcome)."""
    from ._types import DROP, UNCHANGED, Reject, Retry

    r = _Reader(buf)
    if bytes(buf[:4]) != OUTCOME_MAGIC:
        raise MalformedBatch(0, f"outcome buffer starts with {bytes(buf[:4])!r}, not {OUTCOME_MAGIC!r}")
    r.pos = 4
    n = r.u32("outcome count")
    if n != count:
        raise MalformedBatch(4, f"{n} outcomes for a batch of {count}")
    out = []
    for _ in range(n):
        at = r.pos
        tag = r.u8("outcome tag")
        if tag == TAG_UNCHANGED:
            out.append(UNCHANGED)
        elif tag == TAG_DROP:
            out.append(DROP)
        elif tag == TAG_RETRY:
            out.append(Retry(r.text("retry reason")))
        elif tag == TAG_REJECT:
            out.append(Reject(r.text("reject reason")))
        elif tag == TAG_REPLACED and not filter_only:
            outputs = []
            for _ in range(r.u32("output count")):
                fat = r.pos
                flags = r.u8("output flags")
                if flags & ~_OUT_ALL:
                    raise MalformedBatch(fat, f"unknown output field flags {flags:#04x}")
                o = Output()
                if flags & OUT_KEYS:
                    o.keys = _read_block(r.sized("keys block"), 1, "output key")
                if flags & OUT_TAGS:
                    o.tag = r.text("output tag")
                if flags & OUT_PROPERTIES:
                    o.properties = _read_block(r.sized("properties block"), 2, "output property")
                if flags & OUT_BODY:
                    o.body = r.sized("output body")
                if flags & OUT_DESTINATION:
                    o.destination = r.text("output destination")
                outputs.append(o)
            out.append(outputs)
        else:
            raise MalformedBatch(at, f"outcome tag {tag} is not allowed here")
    if r.pos != len(buf):
        raise MalformedBatch(r.pos, f"{len(buf) - r.pos} bytes trail the last outcome")
    return out
