package sluice

import (
	"fmt"
	"os"
	"strings"
)

// Level is the severity of a [Log] line, mapped onto the host's log levels.
type Level uint8

// Log levels, as the WIT `log-level` enum numbers them.
const (
	LevelTrace Level = iota
	LevelDebug       // the most a plugin should log per message
	LevelInfo
	LevelWarn
	LevelError // something an operator must act on
)

var levelNames = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", l)
}

// The host imports: set by the component glue (GlueSetHost); natively, standard error and
// an in-memory counter table that tests read with [TestCounters].
var (
	hostLog        = nativeLog
	hostCounterAdd = nativeCounterAdd
	nativeCounters = map[string]uint64{}
)

func nativeLog(level Level, message string, fields [][2]string) {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", level, message)
	for _, f := range fields {
		fmt.Fprintf(&b, " %s=%q", f[0], f[1])
	}
	fmt.Fprintln(os.Stderr, b.String())
}

func nativeCounterAdd(name string, delta uint64) { nativeCounters[name] += delta }

// Log writes a line into the host's log, tagged with the plugin, pipeline and stage.
// keyValues are alternating keys and values shown beside the message, as with log/slog:
//
//	sluice.Log(sluice.LevelInfo, "configured", "mask", "*", "keep_last", "4")
//
// A trailing key without a value is shown under the key "!BADKEY". The host drops lines
// below its level and writes at most 100 lines per second per plugin: do not log per
// message above [LevelDebug]. Natively (in tests) the line goes to standard error.
func Log(level Level, message string, keyValues ...string) {
	var fields [][2]string
	for i := 0; i < len(keyValues); i += 2 {
		if i+1 < len(keyValues) {
			fields = append(fields, [2]string{keyValues[i], keyValues[i+1]})
		} else {
			fields = append(fields, [2]string{"!BADKEY", keyValues[i]})
		}
	}
	hostLog(level, validUTF8(message), fields)
}

// CounterAdd adds delta to the plugin counter name, exported by the host as the metric
// `sluice_plugin_counter_total{plugin, stage, name}`. The host keeps at most 64 distinct
// names per plugin. Natively it adds to the table [TestCounters] returns.
func CounterAdd(name string, delta uint64) { hostCounterAdd(validUTF8(name), delta) }
