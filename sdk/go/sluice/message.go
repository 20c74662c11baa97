package sluice

import (
	"encoding/binary"
	"fmt"
	"iter"
	"unsafe"
)

// frameHeaderLen is the size of the fixed header of every message frame (wit/FRAMES.md).
const frameHeaderLen = 48

// flagHasTag is bit 0 of a frame's flags: the message has a tag (possibly empty).
const flagHasTag = 1

// BatchInfo is what every message of a batch shares.
type BatchInfo struct {
	// Topic is the RocketMQ topic the messages were consumed from.
	Topic string
	// QueueID is the queue within Topic; all messages of a batch come from it.
	QueueID uint32
	// Pipeline is the name the operator gave the pipeline.
	Pipeline string
	// Stage is the name of this stage within the pipeline.
	Stage string
}

// Property is one user property of a message.
type Property struct {
	Key   string
	Value string
}

// Message is one message, read in place from the batch the host sent.
//
// The kit reuses one Message for every message of a batch: do not keep the pointer after
// your function returns. What its methods return stays valid.
type Message struct {
	frame []byte
	// offs[i] is where field i starts (0 id, 1 keys, 2 tag, 3 properties, 4 body);
	// offs[5] is the end of the frame.
	offs  [6]uint32
	batch *BatchInfo
}

// frameError is a batch that does not follow the frame layout: a host bug.
type frameError struct {
	offset int
	what   string
}

func (e *frameError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.what, e.offset) }

// parseFrame reads the frame at buf[at:] into m and returns where the next one starts.
func (m *Message) parseFrame(buf []byte, at int) (int, error) {
	if len(buf)-at < frameHeaderLen {
		return 0, &frameError{at, "message frame header cut short"}
	}
	h := buf[at : at+frameHeaderLen : at+frameHeaderLen]
	le := binary.LittleEndian
	l0, l1, l2, l3, l4 := le.Uint32(h[28:]), le.Uint32(h[32:]), le.Uint32(h[36:]), le.Uint32(h[40:]), le.Uint32(h[44:])
	frameLen := uint64(le.Uint32(h[0:]))
	if total := frameHeaderLen + uint64(l0) + uint64(l1) + uint64(l2) + uint64(l3) + uint64(l4); total != frameLen {
		return 0, lengthMismatch(at, frameLen, total)
	}
	if frameLen > uint64(len(buf)-at) {
		return 0, pastEnd(at, frameLen)
	}
	end := at + int(frameLen)
	m.frame = buf[at:end:end]
	// The sum of the lengths equals frameLen, which fits the buffer: no sum overflows.
	m.offs[0] = frameHeaderLen
	m.offs[1] = frameHeaderLen + l0
	m.offs[2] = m.offs[1] + l1
	m.offs[3] = m.offs[2] + l2
	m.offs[4] = m.offs[3] + l3
	m.offs[5] = m.offs[4] + l4
	return end, nil
}

func lengthMismatch(at int, frameLen, total uint64) error {
	return &frameError{at, fmt.Sprintf("frame length %d does not match its fields (%d)", frameLen, total)}
}

func pastEnd(at int, frameLen uint64) error {
	return &frameError{at, fmt.Sprintf("frame of %d bytes runs past the end of the buffer", frameLen)}
}

// part is field i (0 id, 1 keys, 2 tag, 3 properties, 4 body) as raw bytes.
func (m *Message) part(i int) []byte { return m.frame[m.offs[i]:m.offs[i+1]] }

// str views b as a string without copying: the batch buffer is never written to or reused.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// sizedAt reads the u32-length-prefixed field at b[pos:]; ok is false past the end.
func sizedAt(b []byte, pos int) (field []byte, next int, ok bool) {
	if len(b)-pos < 4 {
		return nil, 0, false
	}
	n := int(binary.LittleEndian.Uint32(b[pos:]))
	start := pos + 4
	if n > len(b)-start {
		return nil, 0, false
	}
	return b[start : start+n : start+n], start + n, true
}

// hostBug panics on a malformed block: the host writes only valid frames, so this is a host
// bug, and a trap (reported by the host with this text) is the honest answer.
func hostBug(what string) {
	panic("sluice: malformed batch from the host: " + what)
}

// Topic is the topic the message came from.
func (m *Message) Topic() string { return m.batch.Topic }

// QueueID is the queue id within the topic.
func (m *Message) QueueID() uint32 { return m.batch.QueueID }

// Batch is the batch context (topic, queue, pipeline, stage).
func (m *Message) Batch() BatchInfo { return *m.batch }

// QueueOffset is the position of the message in its queue.
func (m *Message) QueueOffset() int64 { return int64(binary.LittleEndian.Uint64(m.frame[8:])) }

// BornTimestampMs is when the producer created the message, in ms since the Unix epoch.
func (m *Message) BornTimestampMs() int64 { return int64(binary.LittleEndian.Uint64(m.frame[16:])) }

// ReconsumeCount is how many times this stage already retried the message.
func (m *Message) ReconsumeCount() uint32 { return binary.LittleEndian.Uint32(m.frame[24:]) }

// MessageID is RocketMQ's message id.
func (m *Message) MessageID() string { return str(m.part(0)) }

// Keys are the message keys, in order (a new slice on every call).
func (m *Message) Keys() []string {
	b := m.part(1)
	var keys []string
	for pos := 0; pos < len(b); {
		k, next, ok := sizedAt(b, pos)
		if !ok {
			hostBug("keys block is malformed")
		}
		keys = append(keys, str(k))
		pos = next
	}
	return keys
}

// Key is the first key, if any.
func (m *Message) Key() (string, bool) {
	b := m.part(1)
	if len(b) == 0 {
		return "", false
	}
	k, _, ok := sizedAt(b, 0)
	if !ok {
		hostBug("keys block is malformed")
	}
	return str(k), true
}

// Tag is the message tag; ok is false when the message has none (an empty tag is a tag).
func (m *Message) Tag() (tag string, ok bool) {
	if binary.LittleEndian.Uint32(m.frame[4:])&flagHasTag == 0 {
		return "", false
	}
	return str(m.part(2)), true
}

// Properties yields the user properties in the order the producer set them.
func (m *Message) Properties() iter.Seq2[string, string] {
	b := m.part(3)
	return func(yield func(string, string) bool) {
		for pos := 0; pos < len(b); {
			k, next, ok := sizedAt(b, pos)
			if !ok {
				hostBug("properties block is malformed")
			}
			v, after, ok := sizedAt(b, next)
			if !ok {
				hostBug("properties block is malformed")
			}
			if !yield(str(k), str(v)) {
				return
			}
			pos = after
		}
	}
}

// PropertyList is the user properties as a new slice.
func (m *Message) PropertyList() []Property {
	var props []Property
	for k, v := range m.Properties() {
		props = append(props, Property{k, v})
	}
	return props
}

// Property is the value of the first property named key; ok is false when there is none.
func (m *Message) Property(key string) (value string, ok bool) {
	// The hot path of most filters: one scan, keys compared by length first, no allocation
	// and no call but the comparison (calls are dear in Go's wasm code).
	b := m.part(3)
	for pos := 0; pos < len(b); {
		if len(b)-pos < 8 {
			hostBug("properties block is malformed")
		}
		kl := int(binary.LittleEndian.Uint32(b[pos:]))
		ks := pos + 4
		if kl > len(b)-ks-4 {
			hostBug("properties block is malformed")
		}
		vl := int(binary.LittleEndian.Uint32(b[ks+kl:]))
		vs := ks + kl + 4
		if vl > len(b)-vs {
			hostBug("properties block is malformed")
		}
		if kl == len(key) && string(b[ks:ks+kl]) == key {
			return str(b[vs : vs+vl]), true
		}
		pos = vs + vl
	}
	return "", false
}

// Body is the payload: possibly empty, not necessarily UTF-8. Treat it as read-only.
func (m *Message) Body() []byte { return m.part(4) }

// Derive starts an output from this message's properties, so that [Output.SetProperty]
// adds to or overrides them rather than starting an empty list. Every other field is
// inherited.
func (m *Message) Derive() *Output {
	o := NewOutput()
	o.props = m.PropertyList()
	if o.props == nil {
		o.props = []Property{}
	}
	o.set |= outProperties
	return o
}
