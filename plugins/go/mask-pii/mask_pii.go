// Package mask_pii masks payment card numbers and e-mail addresses in message bodies,
// exactly as the Rust mask-pii (plugins/mask-pii) does.
//
//   - A card number is a run of 13–19 digits, optionally grouped by single spaces or
//     dashes, that passes the Luhn check; all its digits but the last `keep_last` become
//     the mask character (`4111 1111 1111 1111` → `**** **** **** 1111`).
//   - An e-mail address keeps the first character of its local part and its domain
//     (`jane.doe@example.com` → `j*******@example.com`).
//
// Bodies are scanned as bytes, so bodies that are not UTF-8 are masked too and never
// corrupted. A body with nothing to mask is passed on unchanged (nothing is copied).
//
// Configuration: `mask` (one printable ASCII character, default `*`), `keep_last` (0–8,
// default 4), `cards` and `emails` (`true`/`false`, default `true`). Counters:
// `cards_masked`, `emails_masked`.
package mask_pii

import (
	"bytes"

	"sluice.local/sluice"
)

func init() { sluice.RegisterTransform(New) }

// Masker is the configured masking.
type Masker struct {
	mask     byte
	keepLast int
	cards    bool
	emails   bool
}

// New builds the transform from its configuration.
func New(cfg sluice.Config) (sluice.TransformFunc, error) {
	m, err := NewMasker(cfg)
	if err != nil {
		return nil, err
	}
	return m.transform, nil
}

// NewMasker reads the configuration.
func NewMasker(cfg sluice.Config) (*Masker, error) {
	if err := cfg.Only("mask", "keep_last", "cards", "emails"); err != nil {
		return nil, err
	}
	mask := "*"
	if v, ok := cfg.Get("mask"); ok {
		mask = v
	}
	if len(mask) != 1 || mask[0] < '!' || mask[0] > '~' {
		return nil, sluice.ConfigErrorf("mask", "`mask` must be one printable ASCII character")
	}
	keepLast, err := cfg.Uint("keep_last", 4)
	if err != nil {
		return nil, err
	}
	if keepLast > 8 {
		return nil, sluice.ConfigErrorf("keep_last", "`keep_last` may be at most 8")
	}
	m := &Masker{mask: mask[0], keepLast: int(keepLast)}
	if m.cards, err = cfg.Bool("cards", true); err != nil {
		return nil, err
	}
	if m.emails, err = cfg.Bool("emails", true); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Masker) transform(msg *sluice.Message) (sluice.Transformed, error) {
	body, cards, emails := m.MaskBody(msg.Body())
	if body == nil {
		return sluice.Unchanged(), nil
	}
	if cards > 0 {
		sluice.CounterAdd("cards_masked", cards)
	}
	if emails > 0 {
		sluice.CounterAdd("emails_masked", emails)
	}
	return sluice.Outputs(sluice.NewOutput().SetBody(body)), nil
}

// MaskBody returns the masked body (nil when nothing matched) and the counts of cards and
// e-mail addresses masked.
func (m *Masker) MaskBody(body []byte) (out []byte, cards, emails uint64) {
	if m.cards {
		for _, s := range cardSpans(body) {
			if out == nil {
				out = bytes.Clone(body)
			}
			digits := 0
			for _, b := range out[s[0]:s[1]] {
				if isDigit(b) {
					digits++
				}
			}
			seen := 0
			for i := s[0]; i < s[1]; i++ {
				if isDigit(out[i]) {
					seen++
					if seen <= digits-min(m.keepLast, digits) {
						out[i] = m.mask
					}
				}
			}
			cards++
		}
	}
	if m.emails {
		for _, s := range emailLocalParts(body) {
			if out == nil {
				out = bytes.Clone(body)
			}
			for i := s[0] + 1; i < s[1]; i++ {
				out[i] = m.mask
			}
			emails++
		}
	}
	return out, cards, emails
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isAlpha(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }
func isAlnum(b byte) bool { return isDigit(b) || isAlpha(b) }

func luhn(digits []byte) bool {
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// cardSpans are the byte ranges [start, end) of card numbers.
func cardSpans(s []byte) [][2]int {
	var spans [][2]int
	var digits []byte
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isAlnum(s[i-1])) {
			i++
			continue
		}
		// A run of digits with single separators between digits.
		start, end := i, i
		digits = digits[:0]
		for i < len(s) {
			if isDigit(s[i]) {
				digits = append(digits, s[i])
				i++
				end = i
			} else if (s[i] == ' ' || s[i] == '-') && i+1 < len(s) && isDigit(s[i+1]) && len(digits) > 0 {
				i++
			} else {
				break
			}
		}
		bounded := end >= len(s) || !isAlnum(s[end])
		if bounded && len(digits) >= 13 && len(digits) <= 19 && luhn(digits) {
			spans = append(spans, [2]int{start, end})
		}
		i = max(end, start+1)
	}
	return spans
}

func isLocal(b byte) bool {
	return isAlnum(b) || b == '.' || b == '_' || b == '%' || b == '+' || b == '-'
}

// emailLocalParts are the byte ranges [start, at) of the local parts of e-mail addresses.
func emailLocalParts(s []byte) [][2]int {
	var spans [][2]int
	for at, b := range s {
		if b != '@' {
			continue
		}
		start := at
		for start > 0 && isLocal(s[start-1]) {
			start--
		}
		for start < at && s[start] == '.' {
			start++
		}
		end := at + 1
		for end < len(s) && (isAlnum(s[end]) || s[end] == '.' || s[end] == '-') {
			end++
		}
		domain := bytes.TrimSuffix(s[at+1:end], []byte("."))
		tld := domain[bytes.LastIndexByte(domain, '.')+1:]
		tldOK := len(tld) >= 2
		for _, c := range tld {
			tldOK = tldOK && isAlpha(c)
		}
		if at > start && bytes.IndexByte(domain, '.') >= 0 && tldOK {
			spans = append(spans, [2]int{start, at})
		}
	}
	return spans
}
