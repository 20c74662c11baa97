// Package property_filter keeps messages whose user property equals a value: the cheapest
// useful filter, and the filter of the benchmarks.
//
// Configuration: `property` (required), `equals` (required), `missing` = `drop` (default)
// or `keep` for messages without the property.
package property_filter

import "sluice.local/sluice"

func init() { sluice.RegisterFilter(New) }

// New builds the filter from its configuration.
func New(cfg sluice.Config) (sluice.FilterFunc, error) {
	if err := cfg.Only("property", "equals", "missing"); err != nil {
		return nil, err
	}
	keepMissing := false
	switch m, _ := cfg.Get("missing"); m {
	case "", "drop":
	case "keep":
		keepMissing = true
	default:
		return nil, sluice.ConfigErrorf("missing", "expected `drop` or `keep`, got %q", m)
	}
	property, err := cfg.Require("property")
	if err != nil {
		return nil, err
	}
	equals, err := cfg.Require("equals")
	if err != nil {
		return nil, err
	}
	return func(msg *sluice.Message) (bool, error) {
		if v, ok := msg.Property(property); ok {
			return v == equals, nil
		}
		return keepMissing, nil
	}, nil
}
