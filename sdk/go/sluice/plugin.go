package sluice

import "errors"

// FilterFunc decides one message: true keeps it, false drops it. An error fails the
// message: [Retry], [Reject], or any other error (a reject with its text).
type FilterFunc func(msg *Message) (keep bool, err error)

// TransformFunc says what becomes of one message. An error fails the message, as for
// [FilterFunc].
type TransformFunc func(msg *Message) (Transformed, error)

// FilterInit builds a filter from the stage configuration, once per instance. Refuse a
// configuration with a *[ConfigError] (any other error refuses it with its text): the host
// will not start the stage.
type FilterInit func(cfg Config) (FilterFunc, error)

// TransformInit builds a transform from the stage configuration, as [FilterInit].
type TransformInit func(cfg Config) (TransformFunc, error)

// The plugin this component holds: registered by the author's init function, built by
// the host's init call. A component instance is single-threaded.
var (
	filterInit    FilterInit
	transformInit TransformInit
	filterFn      FilterFunc
	transformFn   TransformFunc
)

// RegisterFilter makes init the component's filter. Call it from an init function of
// your package, once; sluice-plugin.toml must say `kind = "filter"`.
func RegisterFilter(init FilterInit) {
	if filterInit != nil || transformInit != nil {
		panic("sluice: a plugin is already registered; register one filter or transform per component")
	}
	filterInit = init
}

// RegisterTransform makes init the component's transform. Call it from an init function
// of your package, once; sluice-plugin.toml must say `kind = "transform"`.
func RegisterTransform(init TransformInit) {
	if filterInit != nil || transformInit != nil {
		panic("sluice: a plugin is already registered; register one filter or transform per component")
	}
	transformInit = init
}

// asConfigError classifies what an init function returned.
func asConfigError(err error) *ConfigError {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce
	}
	return &ConfigError{Message: err.Error()}
}

func initFilter(init FilterInit, cfg Config) (FilterFunc, *ConfigError) {
	f, err := init(cfg)
	if err != nil {
		return nil, asConfigError(err)
	}
	if f == nil {
		return nil, &ConfigError{Message: "sluice: the filter's init returned neither a function nor an error"}
	}
	return f, nil
}

func initTransform(init TransformInit, cfg Config) (TransformFunc, *ConfigError) {
	t, err := init(cfg)
	if err != nil {
		return nil, asConfigError(err)
	}
	if t == nil {
		return nil, &ConfigError{Message: "sluice: the transform's init returned neither a function nor an error"}
	}
	return t, nil
}

func malformed(err error) *Error {
	return &Error{Reason: "malformed batch from the host: " + err.Error()}
}

// filterBatch runs f over one frame-layout batch and returns the outcome buffer.
func filterBatch(f FilterFunc, info *BatchInfo, frames []byte) ([]byte, *Error) {
	w := newOutcomeWriter(len(frames) / frameHeaderLen) // at most one byte per frame
	m := &Message{batch: info}
	for pos := 0; pos < len(frames); {
		next, err := m.parseFrame(frames, pos)
		if err != nil {
			return nil, malformed(err)
		}
		pos = next
		keep, err := f(m)
		switch {
		case err != nil:
			w.fail(asError(err))
		case keep:
			w.tag(tagUnchanged)
		default:
			w.tag(tagDrop)
		}
	}
	return w.finish(), nil
}

// transformBatch runs t over one frame-layout batch and returns the outcome buffer.
func transformBatch(t TransformFunc, info *BatchInfo, frames []byte) ([]byte, *Error) {
	w := newOutcomeWriter(len(frames) / frameHeaderLen)
	m := &Message{batch: info}
	for pos := 0; pos < len(frames); {
		next, err := m.parseFrame(frames, pos)
		if err != nil {
			return nil, malformed(err)
		}
		pos = next
		out, err := t(m)
		switch {
		case err != nil:
			w.fail(asError(err))
		case out.tag == tagReplaced:
			w.replaced(out.outputs)
		default:
			w.tag(out.tag)
		}
	}
	return w.finish(), nil
}
