//go:build !wasip1

package sluice

// Natively the collector runs as usual; see gc_wasip1.go.

func enterCall()      {}
func leaveCall(_ int) {}
