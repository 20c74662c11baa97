// Package {{ident}} is the Sluice transform `{{name}}`: it adds the property
// `processed-by = {{name}}` to every message.
//
// Write your logic in the function that New returns. It sees one message at a time and
// answers sluice.Unchanged() (the cheapest answer: nothing crosses back to the host),
// sluice.Drop(), or sluice.Outputs(...) with one or more outputs, which inherit every
// field they do not set from the input; or an error: sluice.Reject(reason) dead-letters
// the message, sluice.Retry(reason) retries it later. New runs once per instance with the
// stage's configuration; refuse a bad one with an error.
//
// Test: `go test` here runs {{ident}}_test.go natively (after one `sluice plugin build`,
// which puts the kit's Go package where go.mod points). `sluice plugin build` then
// `sluice plugin test .` runs the component over sample.jsonl.
package {{ident}}

import "sluice.local/sluice"

func init() { sluice.RegisterTransform(New) }

// New builds the transform from the stage configuration (it takes none).
func New(cfg sluice.Config) (sluice.TransformFunc, error) {
	if err := cfg.Only(); err != nil {
		return nil, err
	}
	return func(msg *sluice.Message) (sluice.Transformed, error) {
		// Derive starts from the input's properties; every other field is inherited.
		return sluice.Outputs(msg.Derive().SetProperty("processed-by", "{{name}}")), nil
	}, nil
}
