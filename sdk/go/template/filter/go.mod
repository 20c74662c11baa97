module {{name}}

go 1.24

require sluice.local/sluice v0.0.0

// The Sluice Go kit's package. `sluice plugin build` puts a copy of it under
// .sluice-build/sdk (the build itself uses its own copy); build once before `go test`.
replace sluice.local/sluice => ./.sluice-build/sdk
