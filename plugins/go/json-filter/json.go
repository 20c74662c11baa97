package json_filter

// A JSON reader with serde_json's semantics (serde_json 1.0, `serde_json::Value`, without
// the `float_roundtrip` feature), so that this plugin and the Rust one accept the same
// bodies and compare the same values. encoding/json differs from serde_json where it
// matters here: it replaces invalid UTF-8 and lone surrogates instead of failing, nests
// ~10,000 levels where serde_json stops at 127, and does not keep integers apart from
// floats (in serde_json `42` ≠ `42.0`, and `-0` is a float).

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A value is nil (null), bool, string, number, []any or map[string]any.

// numberKind is serde_json's number representation: which of the three a number is.
type numberKind uint8

const (
	posInt numberKind = iota // u64
	negInt                   // i64 < 0
	float                    // f64, never NaN or infinite
)

type number struct {
	kind numberKind
	u    uint64
	i    int64
	f    float64
}

// equal is serde_json's Value equality: numbers of different kinds differ (42 ≠ 42.0),
// floats compare as f64 (0.0 == -0.0), objects compare as maps.
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case number:
		b, ok := b.(number)
		if !ok || a.kind != b.kind {
			return false
		}
		switch a.kind {
		case posInt:
			return a.u == b.u
		case negInt:
			return a.i == b.i
		}
		return a.f == b.f
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

// pointer is serde_json's Value::pointer: RFC 6901, "" is the whole document, array
// indices are plain decimal (no sign, no leading zero).
func pointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[tok]; !ok {
				return nil, false
			}
		case []any:
			if strings.HasPrefix(tok, "+") || (strings.HasPrefix(tok, "0") && len(tok) != 1) {
				return nil, false
			}
			i, err := strconv.ParseUint(tok, 10, 32) // usize on wasm32, as in the Rust plugin
			if err != nil || i >= uint64(len(t)) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// maxDepth is serde_json's recursion limit: 127 nested arrays or objects parse, 128 do not.
const maxDepth = 128

type parser struct {
	b     []byte
	pos   int
	depth int
}

type syntaxError struct {
	what string
	pos  int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.what, e.pos) }

func (p *parser) fail(what string) error { return &syntaxError{what, p.pos} }

// parse reads one JSON document: a value with optional whitespace around it.
func parse(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	p := &parser{b: b, depth: maxDepth}
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos != len(p.b) {
		return nil, p.fail("trailing characters")
	}
	return v, nil
}

func (p *parser) skipWS() {
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\n', '\t', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek is the next byte, or 0 at the end (serde_json's peek_or_null).
func (p *parser) peek() byte {
	if p.pos < len(p.b) {
		return p.b[p.pos]
	}
	return 0
}

func (p *parser) literal(word string, v any) (any, error) {
	if len(p.b)-p.pos < len(word) || string(p.b[p.pos:p.pos+len(word)]) != word {
		return nil, p.fail("expected ident")
	}
	p.pos += len(word)
	return v, nil
}

func (p *parser) value() (any, error) {
	if p.pos >= len(p.b) {
		return nil, p.fail("EOF while parsing a value")
	}
	switch c := p.b[p.pos]; {
	case c == 'n':
		return p.literal("null", nil)
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == '"':
		p.pos++
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == '-':
		p.pos++
		return p.integer(false)
	case c >= '0' && c <= '9':
		return p.integer(true)
	case c == '[':
		return p.nested(p.array)
	case c == '{':
		return p.nested(p.object)
	}
	return nil, p.fail("expected value")
}

func (p *parser) nested(f func() (any, error)) (any, error) {
	p.depth--
	if p.depth == 0 {
		return nil, p.fail("recursion limit exceeded")
	}
	p.pos++
	v, err := f()
	p.depth++
	return v, err
}

func (p *parser) array() (any, error) {
	list := []any{}
	p.skipWS()
	if p.peek() == ']' {
		p.pos++
		return list, nil
	}
	for {
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipWS()
			if p.peek() == ']' {
				return nil, p.fail("trailing comma")
			}
		case ']':
			p.pos++
			return list, nil
		default:
			return nil, p.fail("expected `,` or `]`")
		}
	}
}

func (p *parser) object() (any, error) {
	obj := map[string]any{}
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
		return obj, nil
	}
	for {
		p.skipWS()
		if p.peek() != '"' {
			return nil, p.fail("key must be a string")
		}
		p.pos++
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.peek() != ':' {
			return nil, p.fail("expected `:`")
		}
		p.pos++
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v // a duplicate key: the last value wins
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
			p.skipWS()
			if p.peek() == '}' {
				return nil, p.fail("trailing comma")
			}
		case '}':
			p.pos++
			return obj, nil
		default:
			return nil, p.fail("expected `,` or `}`")
		}
	}
}

// str reads a string after its opening quote.
func (p *parser) str() (string, error) {
	var sb []byte
	start := p.pos
	for {
		if p.pos >= len(p.b) {
			return "", p.fail("EOF while parsing a string")
		}
		switch c := p.b[p.pos]; {
		case c == '"':
			s := string(append(sb, p.b[start:p.pos]...))
			p.pos++
			return s, nil
		case c < 0x20:
			return "", p.fail("control character (\\u0000-\\u001F) found while parsing a string")
		case c == '\\':
			sb = append(sb, p.b[start:p.pos]...)
			p.pos++
			var err error
			if sb, err = p.escape(sb); err != nil {
				return "", err
			}
			start = p.pos
		default:
			p.pos++
		}
	}
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape decodes the escape after a backslash onto sb.
func (p *parser) escape(sb []byte) ([]byte, error) {
	if p.pos >= len(p.b) {
		return nil, p.fail("EOF while parsing a string")
	}
	c := p.b[p.pos]
	p.pos++
	if r, ok := simpleEscapes[c]; ok {
		return append(sb, r), nil
	}
	if c != 'u' {
		return nil, p.fail("invalid escape")
	}
	n, err := p.hex4()
	if err != nil {
		return nil, err
	}
	switch {
	case n >= 0xDC00 && n <= 0xDFFF:
		return nil, p.fail("lone leading surrogate in hex escape")
	case n < 0xD800 || n > 0xDBFF:
		return utf8.AppendRune(sb, rune(n)), nil
	}
	// A leading surrogate: a trailing one must follow as another \u escape.
	if p.peek() != '\\' || p.pos+1 >= len(p.b) || p.b[p.pos+1] != 'u' {
		return nil, p.fail("unexpected end of hex escape")
	}
	p.pos += 2
	n2, err := p.hex4()
	if err != nil {
		return nil, err
	}
	if n2 < 0xDC00 || n2 > 0xDFFF {
		return nil, p.fail("lone leading surrogate in hex escape")
	}
	return utf8.AppendRune(sb, utf16.DecodeRune(rune(n), rune(n2))), nil
}

func (p *parser) hex4() (uint16, error) {
	if len(p.b)-p.pos < 4 {
		p.pos = len(p.b)
		return 0, p.fail("EOF while parsing a string")
	}
	var n uint16
	for _, c := range p.b[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint16(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint16(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint16(c-'A'+10)
		default:
			return 0, p.fail("invalid escape")
		}
	}
	p.pos += 4
	return n, nil
}

// Numbers, as serde_json reads them: an integer is a u64 (or an i64 when negative) while
// it fits, else a float; a float is computed from a u64 significand and a decimal exponent
// by serde_json's fast (not always correctly rounded) algorithm, reproduced here so that
// both plugins compare the same floats.

func overflowU64(a, d uint64) bool {
	const m = math.MaxUint64
	return a >= m/10 && (a > m/10 || d > m%10)
}

func overflowI32(a, d int32) bool {
	const m = math.MaxInt32
	return a >= m/10 && (a > m/10 || d > m%10)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) integer(positive bool) (any, error) {
	if p.pos >= len(p.b) {
		return nil, p.fail("EOF while parsing a value")
	}
	c := p.b[p.pos]
	p.pos++
	switch {
	case c == '0':
		if isDigit(p.peek()) {
			return nil, p.fail("invalid number")
		}
		return p.number(positive, 0)
	case c >= '1' && c <= '9':
		sig := uint64(c - '0')
		for isDigit(p.peek()) {
			d := uint64(p.peek() - '0')
			if overflowU64(sig, d) {
				f, err := p.longInteger(positive, sig)
				return number{kind: float, f: f}, err
			}
			p.pos++
			sig = sig*10 + d
		}
		return p.number(positive, sig)
	}
	return nil, p.fail("invalid number")
}

func (p *parser) number(positive bool, sig uint64) (any, error) {
	switch p.peek() {
	case '.':
		f, err := p.decimal(positive, sig, 0)
		return number{kind: float, f: f}, err
	case 'e', 'E':
		f, err := p.exponent(positive, sig, 0)
		return number{kind: float, f: f}, err
	}
	if positive {
		return number{kind: posInt, u: sig}, nil
	}
	neg := -int64(sig) // wrapping, as in Rust
	if neg >= 0 {
		// An underflow, or -0: a float.
		return number{kind: float, f: -float64(sig)}, nil
	}
	return number{kind: negInt, i: neg}, nil
}

func (p *parser) decimal(positive bool, sig uint64, expBefore int32) (float64, error) {
	p.pos++ // '.'
	var expAfter int32
	for isDigit(p.peek()) {
		d := uint64(p.peek() - '0')
		if overflowU64(sig, d) {
			// Further digits are ignored.
			for isDigit(p.peek()) {
				p.pos++
			}
			if c := p.peek(); c == 'e' || c == 'E' {
				return p.exponent(positive, sig, expBefore+expAfter)
			}
			return p.fromParts(positive, sig, expBefore+expAfter)
		}
		p.pos++
		sig = sig*10 + d
		expAfter--
	}
	if expAfter == 0 {
		if p.pos >= len(p.b) {
			return 0, p.fail("EOF while parsing a value")
		}
		return 0, p.fail("invalid number")
	}
	exp := expBefore + expAfter
	if c := p.peek(); c == 'e' || c == 'E' {
		return p.exponent(positive, sig, exp)
	}
	return p.fromParts(positive, sig, exp)
}

func (p *parser) exponent(positive bool, sig uint64, startExp int32) (float64, error) {
	p.pos++ // 'e' or 'E'
	positiveExp := true
	switch p.peek() {
	case '+':
		p.pos++
	case '-':
		p.pos++
		positiveExp = false
	}
	if p.pos >= len(p.b) {
		return 0, p.fail("EOF while parsing a value")
	}
	c := p.b[p.pos]
	p.pos++
	if !isDigit(c) {
		return 0, p.fail("invalid number")
	}
	exp := int32(c - '0')
	for isDigit(p.peek()) {
		d := int32(p.peek() - '0')
		p.pos++
		if overflowI32(exp, d) {
			if sig != 0 && positiveExp {
				return 0, p.fail("number out of range")
			}
			for isDigit(p.peek()) {
				p.pos++
			}
			if positive {
				return 0, nil
			}
			return math.Copysign(0, -1), nil
		}
		exp = exp*10 + d
	}
	var final int32
	if positiveExp {
		final = satAdd(startExp, exp)
	} else {
		final = satAdd(startExp, -exp)
	}
	return p.fromParts(positive, sig, final)
}

// longInteger continues an integer too long for a u64: further digits only scale it.
func (p *parser) longInteger(positive bool, sig uint64) (float64, error) {
	var exp int32
	for {
		switch c := p.peek(); {
		case isDigit(c):
			p.pos++
			exp++
		case c == '.':
			return p.decimal(positive, sig, exp)
		case c == 'e' || c == 'E':
			return p.exponent(positive, sig, exp)
		default:
			return p.fromParts(positive, sig, exp)
		}
	}
}

func satAdd(a, b int32) int32 {
	s := int64(a) + int64(b)
	return int32(max(math.MinInt32, min(math.MaxInt32, s)))
}

// pow10 is serde_json's POW10 table: 1e0 … 1e308, each correctly rounded.
var pow10 = func() (t [309]float64) {
	for i := range t {
		t[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return t
}()

// fromParts is serde_json's f64_from_parts (without `float_roundtrip`).
func (p *parser) fromParts(positive bool, sig uint64, exp int32) (float64, error) {
	f := float64(sig)
	for {
		abs := int64(exp)
		if abs < 0 {
			abs = -abs
		}
		if abs < int64(len(pow10)) {
			if exp >= 0 {
				f *= pow10[abs]
				if math.IsInf(f, 0) {
					return 0, p.fail("number out of range")
				}
			} else {
				f /= pow10[abs]
			}
			break
		}
		if f == 0 {
			break
		}
		if exp >= 0 {
			return 0, p.fail("number out of range")
		}
		f /= 1e308
		exp += 308
	}
	if !positive {
		f = -f
	}
	return f, nil
}
