// Package json_filter keeps messages whose JSON body has a configured field equal to a
// configured value, drops the others, and rejects bodies that are not JSON. It behaves
// exactly as the Rust json-filter (plugins/json-filter), serde_json's JSON rules included
// (see json.go).
//
// Configuration:
//   - `field` (required): the field, as a dotted path (`order.status`) or a JSON Pointer
//     (`/order/items/0/sku`).
//   - `equals` (required): the value. Read as JSON when it parses (`42`, `true`, `"paid"`,
//     `{"a":1}`), else as a plain string (`paid`).
package json_filter

import (
	"strings"

	"sluice.local/sluice"
)

func init() { sluice.RegisterFilter(New) }

// New builds the filter from its configuration.
func New(cfg sluice.Config) (sluice.FilterFunc, error) {
	if err := cfg.Only("field", "equals"); err != nil {
		return nil, err
	}
	field, err := cfg.Require("field")
	if err != nil {
		return nil, err
	}
	if field == "" {
		return nil, sluice.ConfigErrorf("field", "`field` is empty; give a dotted path like `order.status`")
	}
	ptr := field
	if !strings.HasPrefix(field, "/") {
		var b strings.Builder
		for _, part := range strings.Split(field, ".") {
			b.WriteString("/")
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(part, "~", "~0"), "/", "~1"))
		}
		ptr = b.String()
	}
	raw, err := cfg.Require("equals")
	if err != nil {
		return nil, err
	}
	equals, err := parse([]byte(raw))
	if err != nil {
		equals = raw
	}
	return func(msg *sluice.Message) (bool, error) {
		body, err := parse(msg.Body())
		if err != nil {
			if len(msg.Body()) == 0 {
				return false, sluice.Reject("body is empty, not JSON")
			}
			return false, sluice.Rejectf("body is not JSON: %v", err)
		}
		got, ok := pointer(body, ptr)
		return ok && equal(got, equals), nil
	}, nil
}
