//go:build wasip1

package sluice

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The garbage collector must never run while the host is lowering a call's arguments
// into the instance: the host calls `cabi_realloc` for them, and a collection started
// there calls WASI clock imports, which the component model forbids at that moment
// (`wasm trap: cannot leave component instance`). So the collector is off whenever the
// host is not inside one of our exports, and on (GOGC=100) while the plugin's own code
// runs. The batches the host hands in are allocated while it is off, so the pacer does
// not see them grow the heap; after every budget's worth of them (at least
// minGCBudget, else the live heap after the last collection, as GOGC=100 would allow),
// leaveCall collects before it turns the collector off again. See README.md, "The
// garbage collector".

const minGCBudget = 4 << 20

var (
	receivedSinceGC int
	gcBudget        = minGCBudget
	liveSample      = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
)

func init() { debug.SetGCPercent(-1) }

// enterCall runs first in every export.
func enterCall() { debug.SetGCPercent(100) }

// leaveCall runs last in every export, after `received` bytes of arguments were handed in.
// Turning the collector off waits for a cycle in progress to finish marking.
func leaveCall(received int) {
	receivedSinceGC += received
	if receivedSinceGC >= gcBudget {
		runtime.GC()
		receivedSinceGC = 0
		metrics.Read(liveSample)
		gcBudget = max(minGCBudget, int(liveSample[0].Value.Uint64()))
	}
	debug.SetGCPercent(-1)
}
