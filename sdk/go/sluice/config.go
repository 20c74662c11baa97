package sluice

import (
	"fmt"
	"strconv"
	"strings"
)

// Config is the stage configuration: the string pairs of the stage's `config` table, in
// the order written.
type Config struct {
	pairs [][2]string
}

// NewConfig is a configuration of these pairs.
func NewConfig(pairs [][2]string) Config { return Config{pairs: pairs} }

// Pairs is every pair, in order.
func (c Config) Pairs() [][2]string { return c.pairs }

// Get is the value of key; when a key is set twice the last value wins.
func (c Config) Get(key string) (string, bool) {
	for i := len(c.pairs) - 1; i >= 0; i-- {
		if c.pairs[i][0] == key {
			return c.pairs[i][1], true
		}
	}
	return "", false
}

// Require is the value of key, or a *ConfigError when it is missing.
func (c Config) Require(key string) (string, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	return "", &ConfigError{Key: key, Message: fmt.Sprintf("missing required key `%s`", key)}
}

// Only refuses keys other than allowed, so that a typo in the host configuration is an
// error rather than a silently ignored setting. The *ConfigError names the first unknown
// key and the allowed ones.
func (c Config) Only(allowed ...string) error {
	for _, p := range c.pairs {
		known := false
		for _, a := range allowed {
			if p[0] == a {
				known = true
				break
			}
		}
		if known {
			continue
		}
		if len(allowed) == 0 {
			return &ConfigError{Key: p[0], Message: fmt.Sprintf("unknown key `%s`: this plugin takes no configuration", p[0])}
		}
		return &ConfigError{Key: p[0], Message: fmt.Sprintf("unknown key `%s`; expected one of: %s", p[0], strings.Join(allowed, ", "))}
	}
	return nil
}

// Int is the value of key as a decimal integer, or def when the key is not set. As in
// Rust, one leading `+` is accepted; spaces are not.
func (c Config) Int(key string, def int64) (int64, error) {
	v, ok := c.Get(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(unplus(v), 10, 64)
	if err != nil {
		return 0, invalid(key, v, "expected an integer")
	}
	return n, nil
}

// Uint is the value of key as a decimal unsigned integer, or def when the key is not set.
// As in Rust, one leading `+` is accepted; `-` and spaces are not.
func (c Config) Uint(key string, def uint64) (uint64, error) {
	v, ok := c.Get(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(unplus(v), 10, 64)
	if err != nil {
		return 0, invalid(key, v, "expected an unsigned integer")
	}
	return n, nil
}

// Bool is the value of key, exactly `true` or `false`, or def when the key is not set.
// (Unlike strconv.ParseBool, `1`, `t` or `TRUE` are refused, as Rust and TOML refuse them.)
func (c Config) Bool(key string, def bool) (bool, error) {
	v, ok := c.Get(key)
	if !ok {
		return def, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(key, v, "expected `true` or `false`")
}

// unplus drops one leading `+` that a digit follows, as Rust's integer parsing does.
func unplus(v string) string {
	if len(v) > 1 && v[0] == '+' && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

func invalid(key, value, want string) *ConfigError {
	return &ConfigError{Key: key, Message: fmt.Sprintf("invalid value %q for `%s`: %s", value, key, want)}
}

// ConfigError is a refused configuration: which key, and what is wrong with it. The host
// does not start the stage and shows it to the operator.
type ConfigError struct {
	// Key is the key at fault; empty when the refusal is about the configuration as a
	// whole.
	Key string
	// Message says what is wrong and what would be accepted.
	Message string
}

// ConfigErrorf is a refusal of key (empty for the whole configuration) with a formatted
// message.
func ConfigErrorf(key, format string, args ...any) *ConfigError {
	return &ConfigError{Key: key, Message: fmt.Sprintf(format, args...)}
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return e.Message
	}
	return e.Key + ": " + e.Message
}
