package sluice

import "fmt"

// The entry points of the component glue that build.sh generates around the WIT
// bindings. Plugin authors do not call them: they are exported only because the glue
// lives in another package (the bindings' export package).

// GlueSetHost plugs in the host imports of the component (log, counter-add).
func GlueSetHost(log func(level Level, message string, fields [][2]string), counterAdd func(name string, delta uint64)) {
	hostLog, hostCounterAdd = log, counterAdd
}

// GlueInit is the `init` export of a component of this kind ("filter" or "transform").
func GlueInit(kind string, config [][2]string) (cerr *ConfigError) {
	enterCall()
	defer leaveCall(0)
	cfg := NewConfig(config)
	switch {
	case filterInit == nil && transformInit == nil:
		return &ConfigError{Message: "sluice: no plugin registered: call sluice.RegisterFilter or sluice.RegisterTransform from an init function of the plugin's package"}
	case kind == "filter" && filterInit != nil:
		filterFn, cerr = initFilter(filterInit, cfg)
	case kind == "transform" && transformInit != nil:
		transformFn, cerr = initTransform(transformInit, cfg)
	default:
		return &ConfigError{Message: fmt.Sprintf("sluice: this component was built as a %s, but the plugin registered itself with the other Register function; make `kind` in sluice-plugin.toml match", kind)}
	}
	return cerr
}

// GlueBatch is the `filter` or `transform` export: one batch of frames in, the outcome
// buffer out.
func GlueBatch(kind string, info BatchInfo, frames []byte) ([]byte, *Error) {
	enterCall()
	defer leaveCall(len(frames))
	switch {
	case kind == "filter" && filterFn != nil:
		return filterBatch(filterFn, &info, frames)
	case kind == "transform" && transformFn != nil:
		return transformBatch(transformFn, &info, frames)
	}
	return nil, &Error{Reason: "plugin called before a successful init"}
}
