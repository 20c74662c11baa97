// Package sluice writes Sluice plugins in Go: register one function, the kit does the rest.
//
// A Sluice plugin is a WebAssembly component that Sluice calls with batches of RocketMQ
// messages. This package hides the WIT bindings, the batch loop and the bulk frame layout
// (the contract's fast path, wit/FRAMES.md): you write what happens to *one* message and
// register it from an init function. Test it natively with [RunFilter] and [RunTransform],
// which run the same batch loop the component runs.
//
// # A filter
//
//	package region
//
//	import "sluice.local/sluice"
//
//	func init() { sluice.RegisterFilter(newFilter) }
//
//	// newFilter keeps messages whose `region` property is the configured one.
//	func newFilter(cfg sluice.Config) (sluice.FilterFunc, error) {
//		if err := cfg.Only("region"); err != nil {
//			return nil, err
//		}
//		region, err := cfg.Require("region")
//		if err != nil {
//			return nil, err
//		}
//		return func(msg *sluice.Message) (bool, error) {
//			v, ok := msg.Property("region")
//			return ok && v == region, nil
//		}, nil
//	}
//
// # A transform
//
// A transform answers each message with a [Transformed]: [Unchanged] (nothing crosses back
// to the host: the cheapest answer), [Drop], or one or more [Output]s made with
// [NewOutput] or [Message.Derive]. An output inherits every field it does not set from its
// input.
//
//	func newUpper(cfg sluice.Config) (sluice.TransformFunc, error) {
//		if err := cfg.Only(); err != nil {
//			return nil, err
//		}
//		return func(msg *sluice.Message) (sluice.Transformed, error) {
//			if !utf8.Valid(msg.Body()) {
//				return sluice.Transformed{}, sluice.Reject("body is not UTF-8")
//			}
//			return sluice.Outputs(sluice.NewOutput().SetBody(bytes.ToUpper(msg.Body()))), nil
//		}, nil
//	}
//
// # Failures
//
// Return [Retry] (transient: the host retries the message with backoff) or [Reject]
// (permanent: dead letter) for failures you expect; any other non-nil error is a reject
// with the error's text. A panic is a bug, as in a Rust plugin: the instance traps, the
// host discards it and applies the stage's failure policy to the batch, and the trap's
// error carries the panic message and stack (the guest's standard error).
//
// # Lifetimes
//
// The *Message passed to your function is reused for the next message: do not keep it.
// The strings and byte slices it returns point into the batch the host sent and stay valid
// (that buffer is never reused), but treat them as read-only: copy a body with
// bytes.Clone before changing it.
package sluice
