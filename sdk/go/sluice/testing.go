package sluice

// Native unit testing of plugins: builds a frame-layout batch from TestMessages, runs it
// through the very batch loop the component runs, and reads the answer back with the
// host's checks.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// TestMessage is a message to feed a plugin in a test. Build one with [NewTestMessage] and
// the With methods.
type TestMessage struct {
	MessageID  string // default: msg-<index>
	Keys       []string
	Tag        string
	HasTag     bool
	Properties []Property
	Body       []byte
}

// NewTestMessage is a message with this body.
func NewTestMessage(body string) TestMessage { return TestMessage{Body: []byte(body)} }

// WithKey adds a key.
func (m TestMessage) WithKey(k string) TestMessage {
	m.Keys = append(m.Keys[:len(m.Keys):len(m.Keys)], k)
	return m
}

// WithTag sets the tag.
func (m TestMessage) WithTag(t string) TestMessage {
	m.Tag, m.HasTag = t, true
	return m
}

// WithProperty adds a property.
func (m TestMessage) WithProperty(k, v string) TestMessage {
	m.Properties = append(m.Properties[:len(m.Properties):len(m.Properties)], Property{k, v})
	return m
}

// WithBody sets the body bytes.
func (m TestMessage) WithBody(b []byte) TestMessage {
	m.Body = b
	return m
}

// OutcomeKind is what a plugin answered for one message.
type OutcomeKind uint8

// The outcomes.
const (
	OutcomeUnchanged OutcomeKind = tagUnchanged // kept (filter) or unchanged (transform)
	OutcomeDrop      OutcomeKind = tagDrop
	OutcomeReplaced  OutcomeKind = tagReplaced
	OutcomeRetry     OutcomeKind = tagRetry
	OutcomeReject    OutcomeKind = tagReject
)

var outcomeNames = [...]string{"unchanged", "drop", "replaced", "retry", "reject"}

func (k OutcomeKind) String() string {
	if int(k) < len(outcomeNames) {
		return outcomeNames[k]
	}
	return fmt.Sprintf("OutcomeKind(%d)", k)
}

// TestOutput is an output as the host reads it. A nil field (nil slice, nil pointer) is
// inherited from the input; a set but empty one is non-nil.
type TestOutput struct {
	Keys        []string
	Tag         *string
	Properties  []Property
	Body        []byte
	Destination *string
}

// TestOutcome is the answer for one message.
type TestOutcome struct {
	Kind    OutcomeKind
	Outputs []TestOutput // for OutcomeReplaced
	Reason  string       // for OutcomeRetry and OutcomeReject
}

func (o TestOutcome) String() string {
	switch o.Kind {
	case OutcomeRetry, OutcomeReject:
		return fmt.Sprintf("%s(%q)", o.Kind, o.Reason)
	case OutcomeReplaced:
		return fmt.Sprintf("replaced(%+v)", o.Outputs)
	}
	return o.Kind.String()
}

// testInfo is the batch context of test runs.
var testInfo = BatchInfo{Topic: "test", QueueID: 0, Pipeline: "test", Stage: "test"}

// RunFilter builds the filter with config (`key=value` entries, as `sluice plugin test
// -c` takes them) and runs msgs through it as one batch.
//
// The error is a *[ConfigError] when init refuses the configuration, a *[Error] when the
// batch fails as a whole, and any other error when the answer breaks the contract (a kit
// bug).
func RunFilter(init FilterInit, config []string, msgs ...TestMessage) ([]TestOutcome, error) {
	cfg, err := testConfig(config)
	if err != nil {
		return nil, err
	}
	f, cerr := initFilter(init, cfg)
	if cerr != nil {
		return nil, cerr
	}
	info := testInfo
	out, berr := filterBatch(f, &info, EncodeBatch(msgs...))
	if berr != nil {
		return nil, berr
	}
	return DecodeOutcomes(out, len(msgs), true)
}

// RunTransform builds the transform with config and runs msgs through it as one batch, as
// [RunFilter].
func RunTransform(init TransformInit, config []string, msgs ...TestMessage) ([]TestOutcome, error) {
	cfg, err := testConfig(config)
	if err != nil {
		return nil, err
	}
	t, cerr := initTransform(init, cfg)
	if cerr != nil {
		return nil, cerr
	}
	info := testInfo
	out, berr := transformBatch(t, &info, EncodeBatch(msgs...))
	if berr != nil {
		return nil, berr
	}
	return DecodeOutcomes(out, len(msgs), false)
}

// TestCounters is the table natively recorded by [CounterAdd]; tests may read and clear it.
func TestCounters() map[string]uint64 { return nativeCounters }

func testConfig(entries []string) (Config, error) {
	var pairs [][2]string
	for _, e := range entries {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			return Config{}, fmt.Errorf("test configuration entry %q is not `key=value`", e)
		}
		pairs = append(pairs, [2]string{k, v})
	}
	return NewConfig(pairs), nil
}

// EncodeBatch writes msgs as a batch of frames (wit/FRAMES.md), as the host does; message
// i gets queue offset i.
func EncodeBatch(msgs ...TestMessage) []byte {
	var b []byte
	u32 := func(v int) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	for i, m := range msgs {
		id := m.MessageID
		if id == "" {
			id = fmt.Sprintf("msg-%d", i)
		}
		keysLen, propsLen := 0, 0
		for _, k := range m.Keys {
			keysLen += 4 + len(k)
		}
		for _, p := range m.Properties {
			propsLen += 8 + len(p.Key) + len(p.Value)
		}
		tag := ""
		flags := 0
		if m.HasTag {
			tag, flags = m.Tag, flagHasTag
		}
		u32(frameHeaderLen + len(id) + keysLen + len(tag) + propsLen + len(m.Body))
		u32(flags)
		b = binary.LittleEndian.AppendUint64(b, uint64(i))
		b = binary.LittleEndian.AppendUint64(b, 0)
		u32(0)
		for _, l := range []int{len(id), keysLen, len(tag), propsLen, len(m.Body)} {
			u32(l)
		}
		b = append(b, id...)
		for _, k := range m.Keys {
			u32(len(k))
			b = append(b, k...)
		}
		b = append(b, tag...)
		for _, p := range m.Properties {
			u32(len(p.Key))
			b = append(b, p.Key...)
			u32(len(p.Value))
			b = append(b, p.Value...)
		}
		b = append(b, m.Body...)
	}
	return b
}

// outcomeReader reads an outcome buffer with the host's checks.
type outcomeReader struct {
	b   []byte
	pos int
}

func (r *outcomeReader) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid outcome buffer at byte %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *outcomeReader) u8() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.errorf("buffer ends early")
	}
	r.pos++
	return r.b[r.pos-1], nil
}

func (r *outcomeReader) u32() (int, error) {
	if len(r.b)-r.pos < 4 {
		return 0, r.errorf("buffer ends early")
	}
	r.pos += 4
	return int(binary.LittleEndian.Uint32(r.b[r.pos-4:])), nil
}

func (r *outcomeReader) bytes() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n > len(r.b)-r.pos {
		return nil, r.errorf("field of %d bytes runs past the end", n)
	}
	r.pos += n
	return append([]byte{}, r.b[r.pos-n:r.pos]...), nil
}

func (r *outcomeReader) str(what string) (string, error) {
	b, err := r.bytes()
	if err == nil && !utf8.Valid(b) {
		err = r.errorf("%s is not valid UTF-8", what)
	}
	return string(b), err
}

// block reads a keys block (per 1) or properties block (per 2) as strings.
func (r *outcomeReader) block(per int, what string) ([]string, error) {
	raw, err := r.bytes()
	if err != nil {
		return nil, err
	}
	sub := outcomeReader{b: raw}
	out := []string{}
	for sub.pos < len(raw) {
		for range per {
			s, err := sub.str(what)
			if err != nil {
				return nil, fmt.Errorf("%s block is malformed: %w", what, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// DecodeOutcomes reads an outcome buffer for a batch of n messages with the checks the
// host makes (magic, count, tags, lengths, UTF-8, filters using only filter outcomes).
func DecodeOutcomes(buf []byte, n int, filter bool) ([]TestOutcome, error) {
	r := &outcomeReader{b: buf}
	if len(buf) < 8 || [4]byte(buf[:4]) != outcomeMagic {
		return nil, r.errorf("bad magic")
	}
	r.pos = 4
	count, _ := r.u32()
	if count != n {
		return nil, r.errorf("%d outcomes for a batch of %d", count, n)
	}
	outs := make([]TestOutcome, 0, n)
	for range n {
		tag, err := r.u8()
		if err != nil {
			return nil, err
		}
		o := TestOutcome{Kind: OutcomeKind(tag)}
		switch tag {
		case tagUnchanged, tagDrop:
		case tagRetry, tagReject:
			if o.Reason, err = r.str("reason"); err != nil {
				return nil, err
			}
		case tagReplaced:
			if filter {
				return nil, r.errorf("a filter answered `replaced`")
			}
			k, err := r.u32()
			if err != nil {
				return nil, err
			}
			o.Outputs = []TestOutput{}
			for range k {
				out, err := r.output()
				if err != nil {
					return nil, err
				}
				o.Outputs = append(o.Outputs, out)
			}
		default:
			return nil, r.errorf("unknown outcome tag %d", tag)
		}
		outs = append(outs, o)
	}
	if r.pos != len(buf) {
		return nil, r.errorf("bytes trail the last outcome")
	}
	return outs, nil
}

func (r *outcomeReader) output() (TestOutput, error) {
	var o TestOutput
	flags, err := r.u8()
	if err != nil {
		return o, err
	}
	if flags&^(outKeys|outTag|outProperties|outBody|outDestination) != 0 {
		return o, r.errorf("unknown output field flags %#02x", flags)
	}
	if flags&outKeys != 0 {
		if o.Keys, err = r.block(1, "output key"); err != nil {
			return o, err
		}
	}
	if flags&outTag != 0 {
		t, err := r.str("output tag")
		if err != nil {
			return o, err
		}
		o.Tag = &t
	}
	if flags&outProperties != 0 {
		kv, err := r.block(2, "output property")
		if err != nil {
			return o, err
		}
		o.Properties = []Property{}
		for i := 0; i < len(kv); i += 2 {
			o.Properties = append(o.Properties, Property{kv[i], kv[i+1]})
		}
	}
	if flags&outBody != 0 {
		if o.Body, err = r.bytes(); err != nil {
			return o, err
		}
	}
	if flags&outDestination != 0 {
		d, err := r.str("output destination")
		if err != nil {
			return o, err
		}
		o.Destination = &d
	}
	return o, nil
}
