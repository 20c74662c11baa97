// Package {{ident}} is the Sluice filter `{{name}}`: it keeps messages whose property
// `property` equals `equals`.
//
// Write your logic in the function that New returns. It sees one message at a time (the
// kit runs the batch loop and the contract's fast path) and answers true to keep the
// message, false to drop it, or an error: sluice.Reject(reason) dead-letters the message,
// sluice.Retry(reason) retries it later. New runs once per instance with the stage's
// configuration; refuse a bad one with an error.
//
// Test: `go test` here runs {{ident}}_test.go natively (after one `sluice plugin build`,
// which puts the kit's Go package where go.mod points). `sluice plugin build` then
// `sluice plugin test .` runs the component over sample.jsonl with the [test]
// configuration of sluice-plugin.toml.
package {{ident}}

import "sluice.local/sluice"

func init() { sluice.RegisterFilter(New) }

// New builds the filter from the stage configuration.
func New(cfg sluice.Config) (sluice.FilterFunc, error) {
	if err := cfg.Only("property", "equals"); err != nil {
		return nil, err
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
		v, ok := msg.Property(property)
		return ok && v == equals, nil
	}, nil
}
