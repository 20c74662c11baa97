module gc_stress

go 1.24

require sluice.local/sluice v0.0.0

// The kit's package, for `go test` here; `sluice plugin build` uses its own copy.
replace sluice.local/sluice => ../../../sdk/go/sluice
