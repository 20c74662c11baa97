package sluice

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func regionFilter(cfg Config) (FilterFunc, error) {
	if err := cfg.Only("property", "equals"); err != nil {
		return nil, err
	}
	prop, err := cfg.Require("property")
	if err != nil {
		return nil, err
	}
	equals, err := cfg.Require("equals")
	if err != nil {
		return nil, err
	}
	return func(m *Message) (bool, error) {
		switch v, _ := m.Property(prop); v {
		case "retry":
			return false, Retry("later")
		case "reject":
			return false, Rejectf("never %d", 1)
		case "plain":
			return false, errors.New("plain error")
		default:
			return v == equals, nil
		}
	}, nil
}

func TestMessageViewReadsEveryField(t *testing.T) {
	batch := EncodeBatch(
		NewTestMessage("").WithBody([]byte{0xff, 0, 'x'}).WithKey("k1").WithKey("k2").WithTag("").
			WithProperty("a", "1").WithProperty("region", "eu").WithProperty("region", "second"),
		TestMessage{MessageID: "id-1"},
	)
	info := testInfo
	var m Message
	m.batch = &info
	next, err := m.parseFrame(batch, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID() != "msg-0" || m.QueueOffset() != 0 || m.ReconsumeCount() != 0 || m.BornTimestampMs() != 0 {
		t.Errorf("header fields: %q %d", m.MessageID(), m.QueueOffset())
	}
	if got := m.Keys(); !reflect.DeepEqual(got, []string{"k1", "k2"}) {
		t.Errorf("keys %q", got)
	}
	if k, ok := m.Key(); k != "k1" || !ok {
		t.Errorf("key %q %v", k, ok)
	}
	if tag, ok := m.Tag(); tag != "" || !ok {
		t.Errorf("an empty tag is a tag: %q %v", tag, ok)
	}
	if v, ok := m.Property("region"); v != "eu" || !ok {
		t.Errorf("the first property of a name wins: %q %v", v, ok)
	}
	if _, ok := m.Property("missing"); ok {
		t.Error("missing property found")
	}
	if n := len(m.PropertyList()); n != 3 {
		t.Errorf("%d properties", n)
	}
	if string(m.Body()) != "\xff\x00x" || m.Topic() != "test" {
		t.Errorf("body %q", m.Body())
	}
	if _, err := m.parseFrame(batch, next); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Tag(); ok || m.MessageID() != "id-1" || m.Keys() != nil || len(m.Body()) != 0 || m.QueueOffset() != 1 {
		t.Errorf("second message: %q %q", m.MessageID(), m.Keys())
	}
	if _, ok := m.Key(); ok {
		t.Error("no keys, yet a key")
	}
}

func TestMalformedBatchesFailTheBatch(t *testing.T) {
	batch := EncodeBatch(NewTestMessage("hello"), NewTestMessage("world"))
	f, _ := regionFilter(NewConfig([][2]string{{"property", "p"}, {"equals", "x"}}))
	info := testInfo
	for _, cut := range []int{3, 10, len(batch) - 1} {
		_, err := filterBatch(f, &info, batch[:cut])
		if err == nil || err.Transient || !strings.HasPrefix(err.Reason, "malformed batch from the host") {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	bad := append([]byte{}, batch...)
	bad[44] ^= 0x10
	if _, err := filterBatch(f, &info, bad); err == nil || !strings.Contains(err.Reason, "does not match") {
		t.Errorf("corrupted length: %v", err)
	}
	if out, err := filterBatch(f, &info, nil); err != nil || len(out) != 8 {
		t.Errorf("an empty batch has an empty answer: %v %v", out, err)
	}
}

func TestFilterOutcomes(t *testing.T) {
	out, err := RunFilter(regionFilter, []string{"property=region", "equals=eu"},
		NewTestMessage("").WithProperty("region", "eu"),
		NewTestMessage("").WithProperty("region", "us"),
		NewTestMessage(""),
		NewTestMessage("").WithProperty("region", "retry"),
		NewTestMessage("").WithProperty("region", "reject"),
		NewTestMessage("").WithProperty("region", "plain"),
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []TestOutcome{
		{Kind: OutcomeUnchanged}, {Kind: OutcomeDrop}, {Kind: OutcomeDrop},
		{Kind: OutcomeRetry, Reason: "later"}, {Kind: OutcomeReject, Reason: "never 1"},
		{Kind: OutcomeReject, Reason: "plain error"},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %v\nwant %v", out, want)
	}
}

func TestConfig(t *testing.T) {
	_, err := RunFilter(regionFilter, []string{"equals=eu"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "property" || ce.Message != "missing required key `property`" {
		t.Errorf("missing key: %v", err)
	}
	_, err = RunFilter(regionFilter, []string{"property=a", "equals=b", "colour=red"})
	if !errors.As(err, &ce) || ce.Key != "colour" || !strings.Contains(ce.Message, "expected one of: property, equals") {
		t.Errorf("unknown key: %v", err)
	}
	c := NewConfig([][2]string{{"n", "1"}, {"n", "+7"}, {"neg", "-1"}, {"b", "true"}, {"one", "1"}, {"sp", " 4"}})
	if v, _ := c.Get("n"); v != "+7" {
		t.Errorf("the last value wins: %q", v)
	}
	if n, err := c.Uint("n", 0); n != 7 || err != nil {
		t.Errorf("+7: %d %v", n, err)
	}
	if _, err := c.Uint("neg", 0); err == nil {
		t.Error("-1 as unsigned")
	}
	if n, err := c.Int("neg", 0); n != -1 || err != nil {
		t.Errorf("-1: %d %v", n, err)
	}
	if _, err := c.Uint("sp", 0); err == nil {
		t.Error("spaces accepted")
	}
	if n, err := c.Uint("absent", 4); n != 4 || err != nil {
		t.Errorf("default: %d %v", n, err)
	}
	if b, err := c.Bool("b", false); !b || err != nil {
		t.Errorf("true: %v %v", b, err)
	}
	if _, err := c.Bool("one", false); err == nil || !strings.Contains(err.Error(), "expected `true` or `false`") {
		t.Errorf("1 as a bool: %v", err)
	}
	if err := NewConfig([][2]string{{"x", "1"}}).Only(); err == nil || !strings.Contains(err.Error(), "takes no configuration") {
		t.Errorf("no keys allowed: %v", err)
	}
	if _, err := RunFilter(regionFilter, []string{"novalue"}); err == nil {
		t.Error("a test entry without `=`")
	}
}

func TestTransformOutcomes(t *testing.T) {
	init := func(cfg Config) (TransformFunc, error) {
		return func(m *Message) (Transformed, error) {
			switch string(m.Body()) {
			case "same":
				return Unchanged(), nil
			case "drop":
				return Drop(), nil
			case "none":
				return Outputs(), nil
			case "bad":
				return Outputs(NewOutput().SetProperty("k", "\xff")), nil
			case "nil":
				return Outputs(nil), nil
			case "fail":
				return Transformed{}, Retry("bad \xff reason")
			}
			return Outputs(
				m.Derive().SetProperty("region", "us").SetProperty("added", "yes"),
				NewOutput().SetBody([]byte{}).SetTag("").SetKeys("a", "b").SetDestination("fraud"),
			), nil
		}, nil
	}
	out, err := RunTransform(init, nil,
		NewTestMessage("same"), NewTestMessage("drop"), NewTestMessage("none"),
		NewTestMessage("two").WithProperty("region", "eu").WithProperty("x", "1"),
		NewTestMessage("bad"), NewTestMessage("nil"), NewTestMessage("fail"),
	)
	if err != nil {
		t.Fatal(err)
	}
	empty := ""
	fraud := "fraud"
	want := []TestOutcome{
		{Kind: OutcomeUnchanged}, {Kind: OutcomeDrop}, {Kind: OutcomeReplaced, Outputs: []TestOutput{}},
		{Kind: OutcomeReplaced, Outputs: []TestOutput{
			{Properties: []Property{{"region", "us"}, {"x", "1"}, {"added", "yes"}}},
			{Keys: []string{"a", "b"}, Tag: &empty, Body: []byte{}, Destination: &fraud},
		}},
		{Kind: OutcomeReject, Reason: `sluice: output property "k" is not valid UTF-8`},
		{Kind: OutcomeReject, Reason: "sluice: the transform emitted a nil *Output"},
		{Kind: OutcomeRetry, Reason: "bad \uFFFD reason"},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %v\nwant %v", out, want)
	}
}

func TestHostImportsNatively(t *testing.T) {
	clear(TestCounters())
	CounterAdd("seen", 2)
	CounterAdd("seen", 3)
	Log(LevelDebug, "native log line", "k", "v", "dangling")
	if TestCounters()["seen"] != 5 {
		t.Errorf("counters %v", TestCounters())
	}
}

func TestGlueChecksRegistrationAndKind(t *testing.T) {
	defer func() { filterInit, transformInit, filterFn, transformFn = nil, nil, nil, nil }()
	if e := GlueInit("filter", nil); e == nil || !strings.Contains(e.Message, "no plugin registered") {
		t.Errorf("nothing registered: %v", e)
	}
	if _, e := GlueBatch("filter", testInfo, nil); e == nil || e.Reason != "plugin called before a successful init" {
		t.Errorf("batch before init: %v", e)
	}
	RegisterFilter(regionFilter)
	if e := GlueInit("transform", nil); e == nil || !strings.Contains(e.Message, "built as a transform") {
		t.Errorf("wrong kind: %v", e)
	}
	if e := GlueInit("filter", [][2]string{{"property", "region"}, {"equals", "eu"}}); e != nil {
		t.Fatal(e)
	}
	out, e := GlueBatch("filter", testInfo, EncodeBatch(NewTestMessage("").WithProperty("region", "eu")))
	if e != nil || string(out) != "SLO\x01\x01\x00\x00\x00\x00" {
		t.Errorf("%q %v", out, e)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second registration must panic")
		}
	}()
	RegisterTransform(nil)
}

func TestMalformedBlocksPanic(t *testing.T) {
	// A frame whose properties block claims a key longer than the block: a host bug.
	batch := EncodeBatch(NewTestMessage("").WithProperty("k", "v"))
	batch[48+len("msg-0")] = 200
	info := testInfo
	m := Message{batch: &info}
	if _, err := m.parseFrame(batch, 0); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "malformed batch from the host") {
			t.Errorf("recovered %v", r)
		}
	}()
	m.Property("k")
}

func TestPropertiesStopsWhenAsked(t *testing.T) {
	batch := EncodeBatch(NewTestMessage("").WithProperty("a", "1").WithProperty("b", "2"))
	info := testInfo
	m := Message{batch: &info}
	if _, err := m.parseFrame(batch, 0); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for k := range m.Properties() {
		seen = append(seen, k)
		break
	}
	if !reflect.DeepEqual(seen, []string{"a"}) {
		t.Errorf("%v", seen)
	}
}
