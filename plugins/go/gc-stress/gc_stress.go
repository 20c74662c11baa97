// Package gc_stress is the Go kit's test of its garbage-collector handling (see
// sdk/go/README.md): every message allocates several times its body in garbage and is
// replaced by an upper-cased copy, so the collector runs many times over a large input.
// The counters `gc_automatic` and `gc_forced` report how many collections the Go runtime
// started by itself (inside calls) and how many the kit forced between batches; a
// collection at the wrong moment would trap (`cannot leave component instance`).
//
// Configuration: `garbage` (bytes of garbage per body byte, default 4).
package gc_stress

import (
	"bytes"
	"runtime/metrics"

	"sluice.local/sluice"
)

func init() { sluice.RegisterTransform(New) }

var (
	samples  = []metrics.Sample{{Name: "/gc/cycles/automatic:gc-cycles"}, {Name: "/gc/cycles/forced:gc-cycles"}}
	reported [2]uint64
	sink     [][]byte
)

// New builds the transform.
func New(cfg sluice.Config) (sluice.TransformFunc, error) {
	if err := cfg.Only("garbage"); err != nil {
		return nil, err
	}
	garbage, err := cfg.Uint("garbage", 4)
	if err != nil {
		return nil, err
	}
	return func(msg *sluice.Message) (sluice.Transformed, error) {
		for range garbage {
			sink = append(sink[:0], bytes.Clone(msg.Body()))
		}
		metrics.Read(samples)
		for i, name := range []string{"gc_automatic", "gc_forced"} {
			if n := samples[i].Value.Uint64(); n > reported[i] {
				sluice.CounterAdd(name, n-reported[i])
				reported[i] = n
			}
		}
		return sluice.Outputs(sluice.NewOutput().SetBody(bytes.ToUpper(msg.Body()))), nil
	}, nil
}
