//! The Sluice plugin contract's bulk frame layout (`wit/FRAMES.md`, version 1), for both
//! sides of the boundary.
//!
//! The host writes frames with [`encode_frame`] (once per message) and reads the plugin's answers with
//! [`OutcomeReader`]; a guest (the Rust SDK) reads the batch with [`BatchView`] and
//! answers with [`OutcomeWriter`]. Both directions live in one dependency-free crate so the
//! layout is written down exactly once and every test of it covers host and guest alike.
//!
//! ```
//! use sluice_frames::*;
//!
//! let mut enc = BatchEncoder::new(Vec::new());
//! enc.push(&MessageFields {
//!     queue_offset: 7, born_timestamp_ms: 0, reconsume_count: 0, message_id: "id-7",
//!     keys: &["order-1"], tags: Some("paid"), properties: &[("region", "eu")], body: b"{}",
//! });
//! let frames = enc.finish();
//!
//! // Guest side: read the frames and answer.
//! let mut out = OutcomeWriter::new(Vec::new());
//! for msg in BatchView::new(&frames).messages() {
//!     let msg = msg.unwrap();
//!     if msg.property("region").unwrap() == Some("eu") { out.unchanged() } else { out.drop_input() }
//! }
//! let answer = out.finish();
//!
//! // Host side: check the answer against the batch.
//! let mut reader = OutcomeReader::new(&answer, 1).unwrap();
//! assert!(matches!(reader.next_outcome().unwrap(), OutcomeView::Unchanged));
//! reader.finish().unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

/// Magic and version of an outcome buffer: `"SLO"`, version 1.
pub const OUTCOME_MAGIC: [u8; 4] = *b"SLO\x01";
/// Size of the fixed header of every message frame.
pub const FRAME_HEADER_LEN: usize = 48;

/// Outcome tag: pass the input on unchanged (a filter's keep).
pub const TAG_UNCHANGED: u8 = 0;
/// Outcome tag: emit nothing for the input.
pub const TAG_DROP: u8 = 1;
/// Outcome tag: emit the outputs that follow instead of the input.
pub const TAG_REPLACED: u8 = 2;
/// Outcome tag: transient failure, reason follows.
pub const TAG_RETRY: u8 = 3;
/// Outcome tag: permanent failure, reason follows.
pub const TAG_REJECT: u8 = 4;

/// Output field flag: keys block present.
pub const OUT_KEYS: u8 = 1 << 0;
/// Output field flag: tag present.
pub const OUT_TAGS: u8 = 1 << 1;
/// Output field flag: properties block present.
pub const OUT_PROPERTIES: u8 = 1 << 2;
/// Output field flag: body present.
pub const OUT_BODY: u8 = 1 << 3;
/// Output field flag: destination present.
pub const OUT_DESTINATION: u8 = 1 << 4;
const OUT_ALL: u8 = OUT_KEYS | OUT_TAGS | OUT_PROPERTIES | OUT_BODY | OUT_DESTINATION;

const FLAG_HAS_TAGS: u32 = 1;

/// A buffer that does not follow the layout: what is wrong and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// Byte offset in the buffer where the problem was found.
    pub offset: usize,
    /// What is wrong, lowercase, for an error message.
    pub what: String,
}

impl FrameError {
    fn new(offset: usize, what: impl Into<String>) -> Self {
        Self { offset, what: what.into() }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.what, self.offset)
    }
}

impl std::error::Error for FrameError {}

// ---------------------------------------------------------------------------------------
// Small readers and writers

#[inline]
fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn len32(len: usize) -> [u8; 4] {
    u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes()
}

#[inline]
fn put_len(buf: &mut Vec<u8>, len: usize) {
    // Buffers over 4 GiB cannot cross the component boundary anyway.
    put_u32(buf, u32::try_from(len).unwrap_or(u32::MAX));
}

#[inline]
fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_len(buf, bytes.len());
    buf.extend_from_slice(bytes);
}

#[inline]
fn get_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cold]
fn cut_short(at: usize) -> FrameError {
    FrameError::new(at, "message frame header cut short")
}

#[cold]
fn length_mismatch(at: usize, frame_len: usize, total: usize) -> FrameError {
    FrameError::new(at, format!("frame length {frame_len} does not match its fields ({total})"))
}

#[cold]
fn past_end(at: usize, frame_len: usize) -> FrameError {
    FrameError::new(at, format!("frame of {frame_len} bytes runs past the end of the buffer"))
}

#[cold]
fn trailing(at: usize) -> FrameError {
    FrameError::new(at, "bytes trail the frame")
}

/// A cursor over a buffer that never reads past its end.
#[derive(Clone)]
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn u8(&mut self, what: &str) -> Result<u8, FrameError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| FrameError::new(self.pos, format!("buffer ends before {what}")))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn u32(&mut self, what: &str) -> Result<u32, FrameError> {
        let v = get_u32(self.buf, self.pos)
            .ok_or_else(|| FrameError::new(self.pos, format!("buffer ends before {what}")))?;
        self.pos += 4;
        Ok(v)
    }

    #[inline]
    fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], FrameError> {
        match self.buf.get(self.pos..).and_then(|b| b.get(..len)) {
            Some(s) => {
                self.pos += len;
                Ok(s)
            }
            None => Err(self.past_end(len, what)),
        }
    }

    #[cold]
    fn past_end(&self, len: usize, what: &str) -> FrameError {
        FrameError::new(self.pos, format!("{what} of {len} bytes runs past the end of the buffer ({} bytes)", self.buf.len()))
    }

    #[inline]
    fn sized(&mut self, what: &str) -> Result<&'a [u8], FrameError> {
        let len = self.u32(what)? as usize;
        self.bytes(len, what)
    }

    fn str(&mut self, what: &str) -> Result<&'a str, FrameError> {
        let at = self.pos + 4;
        let raw = self.sized(what)?;
        core::str::from_utf8(raw).map_err(|e| {
            FrameError::new(at + e.valid_up_to(), format!("{what} is not valid UTF-8"))
        })
    }
}

/// The `u32`-length-prefixed field at `pos` of `b`, and the position after it.
#[inline]
fn sized_at(b: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let len = b.get(pos..pos.checked_add(4)?)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let start = pos + 4;
    let end = start.checked_add(len)?;
    Some((b.get(start..end)?, end))
}

#[inline]
fn utf8<'a>(raw: &'a [u8], at: usize, what: &str) -> Result<&'a str, FrameError> {
    match core::str::from_utf8(raw) {
        Ok(s) => Ok(s),
        Err(e) => Err(not_utf8(at + e.valid_up_to(), what)),
    }
}

#[cold]
fn not_utf8(at: usize, what: &str) -> FrameError {
    FrameError::new(at, format!("{what} is not valid UTF-8"))
}

// ---------------------------------------------------------------------------------------
// Batches

/// The fields of one message, borrowed, for [`BatchEncoder::push`].
#[derive(Debug, Clone, Copy)]
pub struct MessageFields<'a, K: AsRef<str> = &'a str, P: AsRef<str> = &'a str> {
    /// Queue offset.
    pub queue_offset: i64,
    /// Producer timestamp, ms since the Unix epoch.
    pub born_timestamp_ms: i64,
    /// Retries already made in this stage.
    pub reconsume_count: u32,
    /// Message id.
    pub message_id: &'a str,
    /// Keys.
    pub keys: &'a [K],
    /// Tag, if any.
    pub tags: Option<&'a str>,
    /// User properties.
    pub properties: &'a [(P, P)],
    /// Body bytes.
    pub body: &'a [u8],
}

/// Writes a batch: frames back to back, one per [`push`](Self::push) or
/// [`push_frame`](Self::push_frame).
///
/// The buffer passed to [`new`](Self::new) is cleared and reused, so a caller that keeps
/// it between batches allocates only when a batch is larger than any before.
pub struct BatchEncoder {
    buf: Vec<u8>,
    count: u32,
}

impl BatchEncoder {
    /// Starts a batch in `buf` (cleared first).
    pub fn new(mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self { buf, count: 0 }
    }

    /// Appends one message frame.
    #[inline]
    pub fn push<K: AsRef<str>, P: AsRef<str>>(&mut self, m: &MessageFields<'_, K, P>) {
        encode_frame(&mut self.buf, m);
        self.count += 1;
    }

    /// Appends a frame that is already encoded (one whole frame, as [`encode_frame`] or
    /// [`merge_output`] wrote it).
    #[inline]
    pub fn push_frame(&mut self, frame: &[u8]) {
        self.buf.extend_from_slice(frame);
        self.count += 1;
    }

    /// Number of frames pushed so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no frame was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The finished buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The fixed header of a frame with fields of these lengths, assembled on the stack so that
/// it is appended in one copy; and the frame's whole length.
#[inline]
fn frame_header(lens: [usize; 5], has_tags: bool, queue_offset: i64, born_ms: i64, reconsume: u32) -> ([u8; FRAME_HEADER_LEN], usize) {
    let frame_len = FRAME_HEADER_LEN + lens.iter().sum::<usize>();
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[0..4].copy_from_slice(&len32(frame_len));
    h[4..8].copy_from_slice(&(if has_tags { FLAG_HAS_TAGS } else { 0 }).to_le_bytes());
    h[8..16].copy_from_slice(&queue_offset.to_le_bytes());
    h[16..24].copy_from_slice(&born_ms.to_le_bytes());
    h[24..28].copy_from_slice(&reconsume.to_le_bytes());
    for (i, l) in lens.iter().enumerate() {
        h[28 + 4 * i..32 + 4 * i].copy_from_slice(&len32(*l));
    }
    (h, frame_len)
}

/// Appends one message frame to `buf`.
#[inline]
pub fn encode_frame<K: AsRef<str>, P: AsRef<str>>(buf: &mut Vec<u8>, m: &MessageFields<'_, K, P>) {
        let keys_len: usize = m.keys.iter().map(|k| 4 + k.as_ref().len()).sum();
        let props_len: usize =
            m.properties.iter().map(|(k, v)| 8 + k.as_ref().len() + v.as_ref().len()).sum();
        let tags = m.tags.unwrap_or("");
        let lens = [m.message_id.len(), keys_len, tags.len(), props_len, m.body.len()];
        let (h, frame_len) = frame_header(lens, m.tags.is_some(), m.queue_offset, m.born_timestamp_ms, m.reconsume_count);
        let b = buf;
        b.reserve(frame_len);
        b.extend_from_slice(&h);
        b.extend_from_slice(m.message_id.as_bytes());
        for k in m.keys {
            put_bytes(b, k.as_ref().as_bytes());
        }
        b.extend_from_slice(tags.as_bytes());
        for (k, v) in m.properties {
            put_bytes(b, k.as_ref().as_bytes());
            put_bytes(b, v.as_ref().as_bytes());
        }
        b.extend_from_slice(m.body);
}

/// Appends to `dst` the frame of the message that output `out` of input `input` stands
/// for: every field the output sets, and the input's for the others (blocks are copied
/// as they are, nothing is decoded). Offsets, timestamps and the message id are the
/// input's.
pub fn merge_output(dst: &mut Vec<u8>, input: &MessageView<'_>, out: &OutputView<'_>) {
    let keys = out.keys.map_or(input.part(1), |k| k.0);
    let (has_tags, tags) = match (out.tags, input.raw_tags()) {
        (Some(""), _) => (false, &b""[..]),
        (Some(t), _) => (true, t.as_bytes()),
        (None, Some(t)) => (true, t),
        (None, None) => (false, &b""[..]),
    };
    let properties = out.properties.map_or(input.part(3), |p| p.0);
    let body = out.body.unwrap_or(input.body());
    let message_id = input.part(0);
    let lens = [message_id.len(), keys.len(), tags.len(), properties.len(), body.len()];
    let (h, frame_len) =
        frame_header(lens, has_tags, input.queue_offset(), input.born_timestamp_ms(), input.reconsume_count());
    dst.reserve(frame_len);
    dst.extend_from_slice(&h);
    for part in [message_id, keys, tags, properties, body] {
        dst.extend_from_slice(part);
    }
}

/// A batch: message frames back to back, read in place.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    buf: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// The frames in `buf`. Frames are checked as they are read.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The message frames, in queue order. Iteration ends at the end of the buffer, or
    /// after the first malformed frame (returned as an error).
    pub fn messages(&self) -> MessageIter<'a> {
        MessageIter { buf: self.buf, pos: 0 }
    }

    /// Counts the frames (walks their headers).
    ///
    /// # Errors
    /// When a frame is malformed.
    pub fn count(&self) -> Result<usize, FrameError> {
        self.messages().try_fold(0, |n, m| m.map(|_| n + 1))
    }
}

/// Iterator over the frames of a [`BatchView`].
pub struct MessageIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for MessageIter<'a> {
    type Item = Result<MessageView<'a>, FrameError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let r = MessageView::parse(self.buf, at);
        match &r {
            Ok(m) => self.pos = at + m.frame.len(),
            Err(_) => self.pos = self.buf.len(),
        }
        Some(r)
    }
}

/// One message frame, read in place. Strings are checked for UTF-8 when read.
///
/// Small on purpose (a slice and five lengths): it is made once per message per call, in
/// the guest's batch loop and in the host's accessors.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    frame: &'a [u8],
    base: usize,
    /// Where field i starts (0 id, 1 keys, 2 tags, 3 properties, 4 body); `offs[5]` is
    /// the end of the frame.
    offs: [u32; 6],
}

impl<'a> MessageView<'a> {
    /// Reads one standalone frame (the whole of `frame`).
    ///
    /// # Errors
    /// When the frame is malformed or does not fill `frame` exactly.
    // Always inlined (with `parse`, through `parse_inline`): returned through memory, the
    // view's lengths are written as wide stores and read back as narrow loads, which
    // stalls store forwarding (measured natively: 15 ns per message).
    #[inline(always)]
    pub fn parse_frame(frame: &'a [u8]) -> Result<Self, FrameError> {
        let v = Self::parse(frame, 0)?;
        if v.frame.len() != frame.len() {
            return Err(trailing(v.frame.len()));
        }
        Ok(v)
    }

    /// Checks every string of the frame for UTF-8 and every block for its structure.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), FrameError> {
        self.message_id()?;
        self.tags()?;
        for k in self.keys() {
            k?;
        }
        for p in self.properties() {
            p?;
        }
        Ok(())
    }

    /// A view of nothing: no id, keys, tag, properties or body.
    pub fn empty() -> Self {
        Self { frame: &[], base: 0, offs: [0; 6] }
    }

    /// Length of the whole frame in bytes.
    pub fn frame_len(&self) -> usize {
        self.frame.len()
    }

    /// The whole frame.
    pub fn frame(&self) -> &'a [u8] {
        self.frame
    }

    #[inline]
    fn parse(buf: &'a [u8], at: usize) -> Result<Self, FrameError> {
        let Some(h) = buf.get(at..).and_then(|b| b.first_chunk::<FRAME_HEADER_LEN>()) else {
            return Err(cut_short(at));
        };
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let frame_len = u32_at(0) as usize;
        let lens = [u32_at(28), u32_at(32), u32_at(36), u32_at(40), u32_at(44)];
        let total = lens.iter().fold(FRAME_HEADER_LEN, |a, l| a.saturating_add(*l as usize));
        if total != frame_len {
            return Err(length_mismatch(at, frame_len, total));
        }
        let Some(frame) = buf.get(at..).and_then(|b| b.get(..frame_len)) else {
            return Err(past_end(at, frame_len));
        };
        // The sum of the lengths equals `frame_len`, which fits the buffer: no prefix sum
        // overflows a u32.
        let mut offs = [FRAME_HEADER_LEN as u32; 6];
        for i in 0..5 {
            offs[i + 1] = offs[i] + lens[i];
        }
        Ok(Self { frame, base: at, offs })
    }

    #[inline]
    fn u64_at(&self, o: usize) -> u64 {
        self.frame.get(o..o + 8).and_then(|b| b.first_chunk::<8>()).map_or(0, |b| u64::from_le_bytes(*b))
    }

    #[inline]
    fn u32_at(&self, o: usize) -> u32 {
        self.frame.get(o..o + 4).and_then(|b| b.first_chunk::<4>()).map_or(0, |b| u32::from_le_bytes(*b))
    }

    /// Field `i` (0 id, 1 keys, 2 tags, 3 properties, 4 body) as raw bytes.
    #[inline]
    fn part(&self, i: usize) -> &'a [u8] {
        self.frame.get(self.offs[i] as usize..self.offs[i + 1] as usize).unwrap_or_default()
    }

    /// Queue offset.
    #[inline]
    pub fn queue_offset(&self) -> i64 {
        self.u64_at(8) as i64
    }

    /// Producer timestamp, ms since the Unix epoch.
    #[inline]
    pub fn born_timestamp_ms(&self) -> i64 {
        self.u64_at(16) as i64
    }

    /// Retries already made in this stage.
    #[inline]
    pub fn reconsume_count(&self) -> u32 {
        self.u32_at(24)
    }

    /// Body bytes (any bytes; may be empty).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.part(4)
    }

    #[inline]
    fn raw_tags(&self) -> Option<&'a [u8]> {
        (self.u32_at(4) & FLAG_HAS_TAGS != 0).then(|| self.part(2))
    }

    /// The message id.
    ///
    /// # Errors
    /// When the bytes are not UTF-8 (a host that follows the layout never sends that).
    pub fn message_id(&self) -> Result<&'a str, FrameError> {
        utf8(self.part(0), self.base, "message id")
    }

    /// The tag, if the message has one.
    ///
    /// # Errors
    /// When the bytes are not UTF-8.
    pub fn tags(&self) -> Result<Option<&'a str>, FrameError> {
        self.raw_tags().map(|t| utf8(t, self.base, "tags")).transpose()
    }

    /// The keys, in order.
    pub fn keys(&self) -> StrList<'a> {
        StrList { c: Cursor { buf: self.part(1), pos: 0 }, what: "key" }
    }

    /// The user properties, in order.
    pub fn properties(&self) -> PropertyIter<'a> {
        PropertyIter { c: Cursor { buf: self.part(3), pos: 0 } }
    }

    /// The value of the first property named `key`, without decoding the others.
    ///
    /// # Errors
    /// When the properties block is malformed.
    #[inline]
    pub fn property(&self, key: &str) -> Result<Option<&'a str>, FrameError> {
        // The hot path of most filters: a tight scan with one bounds check per field,
        // keys compared by length first, the value checked for UTF-8 only on a match, and
        // the error built only when the block is malformed.
        let b = self.part(3);
        let key = key.as_bytes();
        let mut pos = 0;
        while pos < b.len() {
            let Some((k, next)) = sized_at(b, pos) else { return Err(self.bad_properties(pos)) };
            let Some((v, after)) = sized_at(b, next) else { return Err(self.bad_properties(next)) };
            if k.len() == key.len() && k.iter().zip(key).all(|(a, b)| a == b) {
                return utf8(v, next + 4, "property value").map(Some);
            }
            pos = after;
        }
        Ok(None)
    }

    #[cold]
    fn bad_properties(&self, at: usize) -> FrameError {
        FrameError::new(self.base + at, "properties block is malformed")
    }

    /// The raw keys block (for re-encoding without decoding).
    pub fn keys_block(&self) -> &'a [u8] {
        self.part(1)
    }

    /// The raw properties block (for re-encoding without decoding).
    pub fn properties_block(&self) -> &'a [u8] {
        self.part(3)
    }
}

/// Iterator over a keys block.
#[derive(Clone)]
pub struct StrList<'a> {
    c: Cursor<'a>,
    what: &'static str,
}

impl<'a> Iterator for StrList<'a> {
    type Item = Result<&'a str, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.c.pos >= self.c.buf.len() {
            return None;
        }
        let r = self.c.str(self.what);
        if r.is_err() {
            self.c.pos = self.c.buf.len();
        }
        Some(r)
    }
}

/// Iterator over a properties block.
#[derive(Clone)]
pub struct PropertyIter<'a> {
    c: Cursor<'a>,
}

impl<'a> Iterator for PropertyIter<'a> {
    type Item = Result<(&'a str, &'a str), FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.c.pos >= self.c.buf.len() {
            return None;
        }
        let r = self.c.str("property key").and_then(|k| Ok((k, self.c.str("property value")?)));
        if r.is_err() {
            self.c.pos = self.c.buf.len();
        }
        Some(r)
    }
}

// ---------------------------------------------------------------------------------------
// Outcomes

/// One output of a `replaced` outcome, borrowed, for [`OutcomeWriter::replaced`].
/// `None` fields are inherited from the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputFields<'a> {
    /// A complete keys block (see [`KeysBlock`]), or `None` to inherit.
    pub keys: Option<&'a [u8]>,
    /// New tag (`Some("")` removes it), or `None` to inherit.
    pub tags: Option<&'a str>,
    /// A complete properties block (see [`PropertiesBlock`]), or `None` to inherit.
    pub properties: Option<&'a [u8]>,
    /// New body, or `None` to inherit.
    pub body: Option<&'a [u8]>,
    /// Destination sink or topic, or `None` for the pipeline's default sinks.
    pub destination: Option<&'a str>,
}

/// Builds a keys block.
#[derive(Debug, Clone, Default)]
pub struct KeysBlock(pub Vec<u8>);

impl KeysBlock {
    /// Appends a key.
    pub fn push(&mut self, key: &str) {
        put_bytes(&mut self.0, key.as_bytes());
    }
}

/// Builds a properties block.
#[derive(Debug, Clone, Default)]
pub struct PropertiesBlock(pub Vec<u8>);

impl PropertiesBlock {
    /// Appends a property.
    pub fn push(&mut self, key: &str, value: &str) {
        put_bytes(&mut self.0, key.as_bytes());
        put_bytes(&mut self.0, value.as_bytes());
    }
}

/// Writes an outcome buffer, one outcome per input message, in order.
pub struct OutcomeWriter {
    buf: Vec<u8>,
    count: u32,
    /// Position of the output count of an open `replaced` outcome.
    open: Option<(usize, u32)>,
}

impl OutcomeWriter {
    /// Starts an outcome buffer in `buf` (cleared first).
    pub fn new(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(&OUTCOME_MAGIC);
        put_u32(&mut buf, 0);
        Self { buf, count: 0, open: None }
    }

    fn close(&mut self) {
        if let Some((at, n)) = self.open.take() {
            self.buf[at..at + 4].copy_from_slice(&n.to_le_bytes());
        }
    }

    #[inline]
    fn tag(&mut self, tag: u8) {
        if self.open.is_some() {
            self.close();
        }
        self.buf.push(tag);
        self.count += 1;
    }

    /// The input passes on unchanged (a filter's keep).
    #[inline]
    pub fn unchanged(&mut self) {
        self.tag(TAG_UNCHANGED);
    }

    /// The input is dropped (emits nothing).
    #[inline]
    pub fn drop_input(&mut self) {
        self.tag(TAG_DROP);
    }

    /// The input failed transiently.
    pub fn retry(&mut self, reason: &str) {
        self.tag(TAG_RETRY);
        put_bytes(&mut self.buf, reason.as_bytes());
    }

    /// The input can never be handled.
    pub fn reject(&mut self, reason: &str) {
        self.tag(TAG_REJECT);
        put_bytes(&mut self.buf, reason.as_bytes());
    }

    /// Starts a `replaced` outcome; add its outputs with [`output`](Self::output).
    pub fn replaced(&mut self) {
        self.tag(TAG_REPLACED);
        let at = self.buf.len();
        put_u32(&mut self.buf, 0);
        self.open = Some((at, 0));
    }

    /// Adds an output to the `replaced` outcome started last.
    ///
    /// # Panics
    /// When no `replaced` outcome is open: that is a bug in the caller.
    pub fn output(&mut self, o: &OutputFields<'_>) {
        let (at, n) = self.open.expect("OutcomeWriter::output called outside a replaced outcome");
        self.open = Some((at, n + 1));
        let flags = o.keys.map_or(0, |_| OUT_KEYS)
            | o.tags.map_or(0, |_| OUT_TAGS)
            | o.properties.map_or(0, |_| OUT_PROPERTIES)
            | o.body.map_or(0, |_| OUT_BODY)
            | o.destination.map_or(0, |_| OUT_DESTINATION);
        let b = &mut self.buf;
        b.push(flags);
        if let Some(k) = o.keys {
            put_bytes(b, k);
        }
        if let Some(t) = o.tags {
            put_bytes(b, t.as_bytes());
        }
        if let Some(p) = o.properties {
            put_bytes(b, p);
        }
        if let Some(body) = o.body {
            put_bytes(b, body);
        }
        if let Some(d) = o.destination {
            put_bytes(b, d.as_bytes());
        }
    }

    /// Adds an output to the `replaced` outcome started last, writing the keys and
    /// properties blocks straight from iterators (no intermediate buffer).
    ///
    /// # Panics
    /// When no `replaced` outcome is open: that is a bug in the caller.
    pub fn output_from<K, P, A, B>(&mut self, keys: Option<K>, tags: Option<&str>, properties: Option<P>, body: Option<&[u8]>, destination: Option<&str>)
    where
        K: IntoIterator,
        K::Item: AsRef<str>,
        P: IntoIterator<Item = (A, B)>,
        A: AsRef<str>,
        B: AsRef<str>,
    {
        let (at, n) = self.open.expect("OutcomeWriter::output_from called outside a replaced outcome");
        self.open = Some((at, n + 1));
        let flags = keys.as_ref().map_or(0, |_| OUT_KEYS)
            | tags.map_or(0, |_| OUT_TAGS)
            | properties.as_ref().map_or(0, |_| OUT_PROPERTIES)
            | body.map_or(0, |_| OUT_BODY)
            | destination.map_or(0, |_| OUT_DESTINATION);
        let b = &mut self.buf;
        b.push(flags);
        if let Some(keys) = keys {
            let len_at = b.len();
            put_u32(b, 0);
            for k in keys {
                put_bytes(b, k.as_ref().as_bytes());
            }
            let len = len32(b.len() - len_at - 4);
            b[len_at..len_at + 4].copy_from_slice(&len);
        }
        if let Some(t) = tags {
            put_bytes(b, t.as_bytes());
        }
        if let Some(props) = properties {
            let len_at = b.len();
            put_u32(b, 0);
            for (k, v) in props {
                put_bytes(b, k.as_ref().as_bytes());
                put_bytes(b, v.as_ref().as_bytes());
            }
            let len = len32(b.len() - len_at - 4);
            b[len_at..len_at + 4].copy_from_slice(&len);
        }
        if let Some(body) = body {
            put_bytes(b, body);
        }
        if let Some(d) = destination {
            put_bytes(b, d.as_bytes());
        }
    }

    /// Number of outcomes written so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no outcome was written yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Drops everything written after outcome `n` (to rewrite a batch-level failure, say).
    pub fn truncate_to(&mut self, len: usize) {
        self.open = None;
        self.buf.truncate(len);
    }

    /// Current length in bytes (a mark for [`truncate_to`](Self::truncate_to)).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// The finished buffer.
    pub fn finish(mut self) -> Vec<u8> {
        self.close();
        self.buf[4..8].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// One outcome, read from an outcome buffer.
#[derive(Debug)]
pub enum OutcomeView<'a> {
    /// Pass the input on unchanged.
    Unchanged,
    /// Emit nothing.
    Drop,
    /// Emit these outputs.
    Replaced(OutputIter<'a>),
    /// Transient failure.
    Retry(&'a str),
    /// Permanent failure.
    Reject(&'a str),
}

/// Reads an outcome buffer, checking every byte against the layout.
#[derive(Debug)]
pub struct OutcomeReader<'a> {
    c: Cursor<'a>,
    left: u32,
}

impl<'a> OutcomeReader<'a> {
    /// Checks the magic and that the buffer holds `expected` outcomes.
    ///
    /// # Errors
    /// When the magic or the count is wrong.
    pub fn new(buf: &'a [u8], expected: usize) -> Result<Self, FrameError> {
        if buf.len() < 8 {
            return Err(FrameError::new(0, format!("outcome buffer of {} bytes is shorter than its 8-byte header", buf.len())));
        }
        if buf[..4] != OUTCOME_MAGIC {
            return Err(FrameError::new(0, format!("not a version-1 outcome buffer (magic {:02x?})", &buf[..4])));
        }
        let count = get_u32(buf, 4).unwrap_or(0);
        if count as usize != expected {
            return Err(FrameError::new(4, format!("{count} outcomes for a batch of {expected} messages")));
        }
        Ok(Self { c: Cursor { buf, pos: 8 }, left: count })
    }

    /// The next outcome. A `Replaced` outcome's outputs must be read to the end before
    /// the next call.
    ///
    /// # Errors
    /// When the buffer is malformed, or the outcomes are all read already.
    pub fn next_outcome(&mut self) -> Result<OutcomeView<'a>, FrameError> {
        if self.left == 0 {
            return Err(FrameError::new(self.c.pos, "more outcomes read than the buffer holds"));
        }
        self.left -= 1;
        let at = self.c.pos;
        match self.c.u8("outcome tag")? {
            TAG_UNCHANGED => Ok(OutcomeView::Unchanged),
            TAG_DROP => Ok(OutcomeView::Drop),
            TAG_RETRY => Ok(OutcomeView::Retry(self.c.str("retry reason")?)),
            TAG_REJECT => Ok(OutcomeView::Reject(self.c.str("reject reason")?)),
            TAG_REPLACED => {
                let n = self.c.u32("output count")?;
                // The outputs are read through a copy of the cursor; skip them here so that
                // the reader stays usable whatever the caller does with the iterator.
                let outputs = OutputIter { c: self.c.clone(), left: n };
                let mut skip = outputs.clone();
                for o in &mut skip {
                    o?;
                }
                self.c.pos = skip.c.pos;
                Ok(OutcomeView::Replaced(outputs))
            }
            t => Err(FrameError::new(at, format!("unknown outcome tag {t}"))),
        }
    }

    /// As [`next_outcome`](Self::next_outcome), but a `Replaced` outcome's outputs are
    /// not checked ahead: the caller reads them from the iterator (each is checked as it
    /// is read) and then hands the drained iterator to
    /// [`continue_after`](Self::continue_after). Reads every output once instead of twice.
    ///
    /// # Errors
    /// When the buffer is malformed.
    pub fn next_outcome_lazy(&mut self) -> Result<OutcomeView<'a>, FrameError> {
        if self.left == 0 {
            return Err(FrameError::new(self.c.pos, "more outcomes read than the buffer holds"));
        }
        if self.c.buf.get(self.c.pos) != Some(&TAG_REPLACED) {
            return self.next_outcome();
        }
        self.left -= 1;
        self.c.pos += 1;
        let n = self.c.u32("output count")?;
        Ok(OutcomeView::Replaced(OutputIter { c: self.c.clone(), left: n }))
    }

    /// Continues after the outputs of a `Replaced` outcome read with
    /// [`next_outcome_lazy`](Self::next_outcome_lazy).
    ///
    /// # Errors
    /// When the iterator was not read to its end.
    pub fn continue_after(&mut self, outputs: &OutputIter<'a>) -> Result<(), FrameError> {
        if outputs.left != 0 {
            return Err(FrameError::new(outputs.c.pos, "outputs left unread"));
        }
        self.c.pos = outputs.c.pos;
        Ok(())
    }

    /// Checks that every outcome was read and nothing trails the last one.
    ///
    /// # Errors
    /// When outcomes are left or bytes trail.
    pub fn finish(self) -> Result<(), FrameError> {
        if self.left != 0 {
            return Err(FrameError::new(self.c.pos, format!("{} outcomes left unread", self.left)));
        }
        if self.c.pos != self.c.buf.len() {
            return Err(FrameError::new(
                self.c.pos,
                format!("{} bytes trail the last outcome", self.c.buf.len() - self.c.pos),
            ));
        }
        Ok(())
    }
}

/// One output of a `replaced` outcome, read and checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputView<'a> {
    /// Keys, or `None` to inherit.
    pub keys: Option<StrListBlock<'a>>,
    /// Tag (`Some("")` removes it), or `None` to inherit.
    pub tags: Option<&'a str>,
    /// Complete property list, or `None` to inherit.
    pub properties: Option<PropertiesView<'a>>,
    /// Body, or `None` to inherit.
    pub body: Option<&'a [u8]>,
    /// Destination, or `None` for the default sinks.
    pub destination: Option<&'a str>,
}

/// A checked keys block of an output.
#[derive(Debug, Clone, Copy)]
pub struct StrListBlock<'a>(&'a [u8]);

impl<'a> StrListBlock<'a> {
    /// The keys (already checked for UTF-8).
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        StrList { c: Cursor { buf: self.0, pos: 0 }, what: "key" }.map_while(Result::ok)
    }
}

/// A checked properties block of an output.
#[derive(Debug, Clone, Copy)]
pub struct PropertiesView<'a>(&'a [u8]);

impl<'a> PropertiesView<'a> {
    /// The properties (already checked for UTF-8).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        PropertyIter { c: Cursor { buf: self.0, pos: 0 } }.map_while(Result::ok)
    }
}

/// Checks a keys block (`per_item` 1) or properties block (2): every length within the
/// block, every string UTF-8. A block that is all ASCII (the usual case, as every length
/// below 128 is an ASCII byte) holds only UTF-8 strings, so only its structure is walked.
fn check_block(raw: &[u8], per_item: usize, base: usize, what: &str) -> Result<(), FrameError> {
    let ascii = raw.is_ascii();
    let mut pos = 0;
    while pos < raw.len() {
        for _ in 0..per_item {
            let Some((s, next)) = sized_at(raw, pos) else {
                return Err(FrameError::new(base + pos, format!("{what} block is malformed")));
            };
            if !ascii {
                utf8(s, base + pos + 4, what)?;
            }
            pos = next;
        }
    }
    Ok(())
}

/// Iterator over the outputs of a `replaced` outcome.
#[derive(Debug, Clone)]
pub struct OutputIter<'a> {
    c: Cursor<'a>,
    left: u32,
}

impl fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({}/{})", self.pos, self.buf.len())
    }
}

impl<'a> OutputIter<'a> {
    /// Number of outputs.
    pub fn count_hint(&self) -> usize {
        self.left as usize
    }

    fn read_one(&mut self) -> Result<OutputView<'a>, FrameError> {
        let at = self.c.pos;
        let flags = self.c.u8("output flags")?;
        if flags & !OUT_ALL != 0 {
            return Err(FrameError::new(at, format!("unknown output field flags {flags:#04x}")));
        }
        let mut o = OutputView::default();
        if flags & OUT_KEYS != 0 {
            let raw = self.c.sized("keys block")?;
            check_block(raw, 1, self.c.pos - raw.len(), "output key")?;
            o.keys = Some(StrListBlock(raw));
        }
        if flags & OUT_TAGS != 0 {
            o.tags = Some(self.c.str("output tag")?);
        }
        if flags & OUT_PROPERTIES != 0 {
            let raw = self.c.sized("properties block")?;
            check_block(raw, 2, self.c.pos - raw.len(), "output property")?;
            o.properties = Some(PropertiesView(raw));
        }
        if flags & OUT_BODY != 0 {
            o.body = Some(self.c.sized("output body")?);
        }
        if flags & OUT_DESTINATION != 0 {
            o.destination = Some(self.c.str("output destination")?);
        }
        Ok(o)
    }
}

impl<'a> Iterator for OutputIter<'a> {
    type Item = Result<OutputView<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.read_one();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<u8> {
        let mut enc = BatchEncoder::new(vec![1, 2, 3]);
        enc.push(&MessageFields {
            queue_offset: 10,
            born_timestamp_ms: 1_700_000_000_000,
            reconsume_count: 2,
            message_id: "A1",
            keys: &["k1", "k2"],
            tags: Some(""),
            properties: &[("a", "1"), ("region", "eu")],
            body: &[0xff, 0x00, b'x'],
        });
        enc.push(&MessageFields::<&str, &str> {
            queue_offset: 11,
            born_timestamp_ms: -1,
            reconsume_count: 0,
            message_id: "",
            keys: &[],
            tags: None,
            properties: &[],
            body: b"",
        });
        enc.finish()
    }

    #[test]
    fn batch_round_trip() {
        let buf = batch();
        let v = BatchView::new(&buf);
        assert_eq!(v.count().unwrap(), 2);
        let msgs: Vec<_> = v.messages().collect::<Result<_, _>>().unwrap();
        let m = &msgs[0];
        assert_eq!((m.queue_offset(), m.born_timestamp_ms(), m.reconsume_count()), (10, 1_700_000_000_000, 2));
        assert_eq!(m.message_id().unwrap(), "A1");
        assert_eq!(m.keys().collect::<Result<Vec<_>, _>>().unwrap(), ["k1", "k2"]);
        assert_eq!(m.tags().unwrap(), Some(""), "an empty tag is not the same as no tag");
        assert_eq!(m.property("region").unwrap(), Some("eu"));
        assert_eq!(m.property("missing").unwrap(), None);
        assert_eq!(m.properties().count(), 2);
        assert_eq!(m.body(), &[0xff, 0x00, b'x']);
        let m = &msgs[1];
        assert_eq!((m.queue_offset(), m.tags().unwrap(), m.body()), (11, None, &b""[..]));
    }

    #[test]
    fn batch_errors_name_the_offset() {
        let buf = batch();
        // Cut inside the second frame: the first reads, the second fails, iteration stops.
        let cut = &buf[..buf.len() - 3];
        let r: Vec<_> = BatchView::new(cut).messages().collect();
        assert_eq!(r.len(), 2);
        assert!(r[0].is_ok());
        let e = r[1].as_ref().unwrap_err();
        assert!(e.what.contains("cut short") || e.what.contains("past the end"), "{e:?}");
        // Cut inside the first frame's body: the frame's length runs past the end.
        let e = BatchView::new(&buf[..buf.len() - 50]).messages().next().unwrap().unwrap_err();
        assert!(e.what.contains("past the end"), "{e:?}");
        // A corrupted length is caught by the frame's own consistency check.
        let mut bad = buf.clone();
        bad[44] ^= 0x10;
        assert!(BatchView::new(&bad).messages().next().unwrap().unwrap_err().what.contains("does not match"));
    }

    #[test]
    fn outcome_round_trip() {
        let mut w = OutcomeWriter::new(Vec::new());
        w.unchanged();
        w.drop_input();
        w.replaced();
        let mut keys = KeysBlock::default();
        keys.push("k");
        let mut props = PropertiesBlock::default();
        props.push("p", "v");
        w.output(&OutputFields { keys: Some(&keys.0), tags: Some(""), properties: Some(&props.0), body: Some(b"b"), destination: Some("fraud") });
        w.output(&OutputFields { body: Some(b"c"), ..Default::default() });
        w.retry("later");
        w.reject("never");
        w.replaced(); // zero outputs
        let buf = w.finish();
        let mut r = OutcomeReader::new(&buf, 6).unwrap();
        assert!(matches!(r.next_outcome().unwrap(), OutcomeView::Unchanged));
        assert!(matches!(r.next_outcome().unwrap(), OutcomeView::Drop));
        let OutcomeView::Replaced(outs) = r.next_outcome().unwrap() else { panic!() };
        let outs: Vec<_> = outs.collect::<Result<_, _>>().unwrap();
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[0].keys.unwrap().iter().collect::<Vec<_>>(), ["k"]);
        assert_eq!(outs[0].properties.unwrap().iter().collect::<Vec<_>>(), [("p", "v")]);
        assert_eq!((outs[0].tags, outs[0].body, outs[0].destination), (Some(""), Some(&b"b"[..]), Some("fraud")));
        assert_eq!((outs[1].keys.is_none(), outs[1].body), (true, Some(&b"c"[..])));
        assert!(matches!(r.next_outcome().unwrap(), OutcomeView::Retry("later")));
        assert!(matches!(r.next_outcome().unwrap(), OutcomeView::Reject("never")));
        let OutcomeView::Replaced(outs) = r.next_outcome().unwrap() else { panic!() };
        assert_eq!(outs.count(), 0);
        r.finish().unwrap();
    }

    #[test]
    fn merged_outputs_inherit_what_they_do_not_set() {
        let buf = batch();
        let input = BatchView::new(&buf).messages().next().unwrap().unwrap();
        let mut w = OutcomeWriter::new(Vec::new());
        w.replaced();
        let mut props = PropertiesBlock::default();
        props.push("x", "y");
        w.output(&OutputFields { properties: Some(&props.0), body: Some(b"new"), ..Default::default() });
        w.output(&OutputFields { tags: Some(""), ..Default::default() });
        let answer = w.finish();
        let mut r = OutcomeReader::new(&answer, 1).unwrap();
        let OutcomeView::Replaced(outs) = r.next_outcome().unwrap() else { panic!() };
        let outs: Vec<_> = outs.collect::<Result<_, _>>().unwrap();
        let mut frame = Vec::new();
        merge_output(&mut frame, &input, &outs[0]);
        let m = MessageView::parse_frame(&frame).unwrap();
        m.validate().unwrap();
        assert_eq!((m.queue_offset(), m.message_id().unwrap(), m.body()), (10, "A1", &b"new"[..]));
        assert_eq!(m.keys().collect::<Result<Vec<_>, _>>().unwrap(), ["k1", "k2"]);
        assert_eq!(m.properties().collect::<Result<Vec<_>, _>>().unwrap(), [("x", "y")]);
        assert_eq!(m.tags().unwrap(), Some(""));
        let mut frame = Vec::new();
        merge_output(&mut frame, &input, &outs[1]);
        let m = MessageView::parse_frame(&frame).unwrap();
        assert_eq!((m.tags().unwrap(), m.body()), (None, &[0xff, 0x00, b'x'][..]), "an empty tag removes the tag");
        assert!(MessageView::parse_frame(&[frame.clone(), vec![0]].concat()).is_err());
    }

    #[test]
    fn lazy_reading_and_streamed_outputs_agree_with_the_checked_ones() {
        let mut w = OutcomeWriter::new(Vec::new());
        w.replaced();
        w.output_from(Some(["k1", "k2"]), Some("t"), Some([("a", "1"), ("b", "2")]), Some(b"x"), None);
        w.output_from(None::<[&str; 0]>, None, Some([("name", "Zoë")]), None, Some("dest"));
        w.drop_input();
        let buf = w.finish();
        let mut r = OutcomeReader::new(&buf, 2).unwrap();
        let OutcomeView::Replaced(mut outs) = r.next_outcome_lazy().unwrap() else { panic!() };
        let first = outs.next().unwrap().unwrap();
        assert_eq!(first.keys.unwrap().iter().collect::<Vec<_>>(), ["k1", "k2"]);
        assert_eq!(first.properties.unwrap().iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
        assert!(r.continue_after(&outs).is_err(), "one output left unread");
        let second = outs.next().unwrap().unwrap();
        assert_eq!((second.keys.is_none(), second.destination), (true, Some("dest")));
        assert_eq!(second.properties.unwrap().iter().collect::<Vec<_>>(), [("name", "Zoë")], "non-ASCII blocks are checked string by string");
        r.continue_after(&outs).unwrap();
        assert!(matches!(r.next_outcome_lazy().unwrap(), OutcomeView::Drop));
        r.finish().unwrap();
    }

    #[test]
    fn malformed_outcomes_are_errors_not_panics() {
        let mut w = OutcomeWriter::new(Vec::new());
        w.replaced();
        w.output(&OutputFields { tags: Some("t"), body: Some(b"body"), ..Default::default() });
        let good = w.finish();
        assert!(OutcomeReader::new(&good, 2).unwrap_err().what.contains("1 outcomes for a batch of 2"));
        // Every truncation and every single-byte corruption must give an error or a valid
        // reading, never a panic.
        for cut in 0..good.len() {
            let r = OutcomeReader::new(&good[..cut], 1).and_then(|mut r| {
                r.next_outcome()?;
                r.finish()
            });
            assert!(r.is_err(), "cut at {cut} accepted");
        }
        for i in 0..good.len() {
            for v in [0u8, 1, 5, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = OutcomeReader::new(&bad, 1).and_then(|mut r| {
                    if let OutcomeView::Replaced(o) = r.next_outcome()? {
                        for x in o {
                            x?;
                        }
                    }
                    r.finish()
                });
            }
        }
        let mut w = OutcomeWriter::new(Vec::new());
        w.reject("bad");
        let mut bad = w.finish();
        let n = bad.len();
        bad[n - 1] = 0xff;
        let e = OutcomeReader::new(&bad, 1).unwrap().next_outcome().unwrap_err();
        assert!(e.what.contains("UTF-8"), "{e}");
        let mut w = OutcomeWriter::new(Vec::new());
        w.unchanged();
        let mut trailing = w.finish();
        trailing.push(0);
        let mut r = OutcomeReader::new(&trailing, 1).unwrap();
        r.next_outcome().unwrap();
        assert!(r.finish().unwrap_err().what.contains("trail"));
    }
}
