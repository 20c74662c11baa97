package sluice

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Outcome tags of the outcome buffer (wit/FRAMES.md).
const (
	tagUnchanged = 0
	tagDrop      = 1
	tagReplaced  = 2
	tagRetry     = 3
	tagReject    = 4
)

// Output field flags, in the order the fields are written.
const (
	outKeys        = 1 << 0
	outTag         = 1 << 1
	outProperties  = 1 << 2
	outBody        = 1 << 3
	outDestination = 1 << 4
)

var outcomeMagic = [4]byte{'S', 'L', 'O', 1}

// Output is a message a transform emits. Fields it does not set are inherited from the
// input. Build one with [NewOutput] (inherits everything) or [Message.Derive] (starts from
// the input's properties) and the Set methods, which return the output for chaining.
type Output struct {
	keys        []string
	tag         string
	props       []Property
	body        []byte
	destination string
	set         uint8
}

// NewOutput is an output that inherits everything from its input.
func NewOutput() *Output { return &Output{} }

// SetBody sets the body (an empty body is a body; it is not inherited).
func (o *Output) SetBody(body []byte) *Output {
	o.body, o.set = body, o.set|outBody
	return o
}

// SetKeys sets the keys.
func (o *Output) SetKeys(keys ...string) *Output {
	o.keys, o.set = keys, o.set|outKeys
	return o
}

// SetTag sets the tag; an empty tag removes the input's tag.
func (o *Output) SetTag(tag string) *Output {
	o.tag, o.set = tag, o.set|outTag
	return o
}

// SetProperties sets the complete property list.
func (o *Output) SetProperties(props ...Property) *Output {
	o.props, o.set = props, o.set|outProperties
	return o
}

// SetProperty sets one property, replacing one of the same name. On an output that
// inherits its properties ([NewOutput]) this starts an empty list; use [Message.Derive] to
// start from the input's properties.
func (o *Output) SetProperty(key, value string) *Output {
	o.set |= outProperties
	for i := range o.props {
		if o.props[i].Key == key {
			o.props[i].Value = value
			return o
		}
	}
	o.props = append(o.props, Property{key, value})
	return o
}

// SetDestination routes the output to a sink or topic of the pipeline instead of its
// default sinks.
func (o *Output) SetDestination(d string) *Output {
	o.destination, o.set = d, o.set|outDestination
	return o
}

// Transformed is what a transform made of one message. The zero value is [Unchanged].
type Transformed struct {
	tag     uint8
	outputs []*Output
}

// Unchanged passes the input on as it is: nothing crosses back to the host.
func Unchanged() Transformed { return Transformed{tag: tagUnchanged} }

// Drop emits nothing for the input.
func Drop() Transformed { return Transformed{tag: tagDrop} }

// Outputs emits these outputs, in order, in place of the input (none: the input is
// replaced by nothing).
func Outputs(outs ...*Output) Transformed { return Transformed{tag: tagReplaced, outputs: outs} }

// outcomeWriter writes an outcome buffer, one outcome per input message, in order.
type outcomeWriter struct {
	buf   []byte
	count uint32
}

func newOutcomeWriter(capacity int) outcomeWriter {
	buf := make([]byte, 8, 8+capacity)
	copy(buf, outcomeMagic[:])
	return outcomeWriter{buf: buf}
}

func (w *outcomeWriter) tag(t byte) {
	w.buf = append(w.buf, t)
	w.count++
}

func (w *outcomeWriter) putU32(v int) { w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(v)) }

func (w *outcomeWriter) putBytes(b []byte) {
	w.putU32(len(b))
	w.buf = append(w.buf, b...)
}

func (w *outcomeWriter) putString(s string) {
	w.putU32(len(s))
	w.buf = append(w.buf, s...)
}

// fail answers a failure; a reason that is not UTF-8 (the host would refuse the whole
// batch) has its bad bytes replaced.
func (w *outcomeWriter) fail(e *Error) {
	t := byte(tagReject)
	if e.Transient {
		t = tagRetry
	}
	w.tag(t)
	w.putString(validUTF8(e.Reason))
}

// replaced writes the outputs; an output holding a string that is not UTF-8 turns the
// message's outcome into a reject that names the field, as the host would refuse the
// whole batch for it.
func (w *outcomeWriter) replaced(outs []*Output) {
	start := len(w.buf)
	w.tag(tagReplaced)
	w.putU32(len(outs))
	for _, o := range outs {
		if bad := o.invalid(); bad != "" {
			w.buf = w.buf[:start]
			w.count--
			w.fail(&Error{Reason: "sluice: " + bad})
			return
		}
		w.buf = append(w.buf, o.set)
		if o.set&outKeys != 0 {
			n := 0
			for _, k := range o.keys {
				n += 4 + len(k)
			}
			w.putU32(n)
			for _, k := range o.keys {
				w.putString(k)
			}
		}
		if o.set&outTag != 0 {
			w.putString(o.tag)
		}
		if o.set&outProperties != 0 {
			n := 0
			for _, p := range o.props {
				n += 8 + len(p.Key) + len(p.Value)
			}
			w.putU32(n)
			for _, p := range o.props {
				w.putString(p.Key)
				w.putString(p.Value)
			}
		}
		if o.set&outBody != 0 {
			w.putBytes(o.body)
		}
		if o.set&outDestination != 0 {
			w.putString(o.destination)
		}
	}
}

// invalid says what is wrong with o (a nil output, a string field that is not UTF-8),
// or is "".
func (o *Output) invalid() string {
	if o == nil {
		return "the transform emitted a nil *Output"
	}
	for _, k := range o.keys {
		if !utf8.ValidString(k) {
			return "an output key is not valid UTF-8"
		}
	}
	if !utf8.ValidString(o.tag) {
		return "the output tag is not valid UTF-8"
	}
	for _, p := range o.props {
		if !utf8.ValidString(p.Key) || !utf8.ValidString(p.Value) {
			return "output property " + strconv.Quote(p.Key) + " is not valid UTF-8"
		}
	}
	if !utf8.ValidString(o.destination) {
		return "the output destination is not valid UTF-8"
	}
	return ""
}

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func (w *outcomeWriter) finish() []byte {
	binary.LittleEndian.PutUint32(w.buf[4:], w.count)
	return w.buf
}
