// Package passthrough passes every message on unchanged: the smallest transform, and the
// measure of what the plugin boundary itself costs.
package passthrough

import "sluice.local/sluice"

func init() { sluice.RegisterTransform(New) }

// New builds the plugin; it takes no configuration.
func New(cfg sluice.Config) (sluice.TransformFunc, error) {
	if err := cfg.Only(); err != nil {
		return nil, err
	}
	return func(*sluice.Message) (sluice.Transformed, error) { return sluice.Unchanged(), nil }, nil
}
