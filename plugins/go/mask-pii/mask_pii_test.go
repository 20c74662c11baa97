package mask_pii

import (
	"errors"
	"reflect"
	"testing"

	"sluice.local/sluice"
)

func masked(t *testing.T, cfg []string, body string) string {
	t.Helper()
	out, err := sluice.RunTransform(New, cfg, sluice.NewTestMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	switch out[0].Kind {
	case sluice.OutcomeUnchanged:
		return body
	case sluice.OutcomeReplaced:
		return string(out[0].Outputs[0].Body)
	}
	t.Fatalf("%v", out[0])
	return ""
}

func TestMasksCardsAndEmails(t *testing.T) {
	for _, c := range []struct {
		cfg        []string
		body, want string
	}{
		{nil, "card 4111 1111 1111 1111 ok", "card **** **** **** 1111 ok"},
		{nil, "4111-1111-1111-1111", "****-****-****-1111"},
		{nil, `{"pan":"5500005555555559"}`, `{"pan":"************5559"}`},
		{nil, "mail jane.doe@example.com now", "mail j*******@example.com now"},
		{[]string{"mask=#", "keep_last=0"}, "4111111111111111", "################"},
		{[]string{"keep_last=+2"}, "4111111111111111", "**************11"},
		{nil, "\xff x@example.org", "\xff x@example.org"},
		{nil, "\xfe 4111111111111111", "\xfe ************1111"},
	} {
		if got := masked(t, c.cfg, c.body); got != c.want {
			t.Errorf("%q with %q: got %q, want %q", c.body, c.cfg, got, c.want)
		}
	}
}

func TestLeavesOtherNumbersAloneAndCounts(t *testing.T) {
	clear(sluice.TestCounters())
	out, err := sluice.RunTransform(New, nil,
		sluice.NewTestMessage("order 1234567890123 total 12"), sluice.NewTestMessage("a@b"), sluice.NewTestMessage(""),
		sluice.NewTestMessage("4111111111111111 and 5500005555555559, a@b.co"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if out[i].Kind != sluice.OutcomeUnchanged {
			t.Errorf("message %d: %v", i, out[i])
		}
	}
	want := map[string]uint64{"cards_masked": 2, "emails_masked": 1}
	if !reflect.DeepEqual(sluice.TestCounters(), want) {
		t.Errorf("counters %v", sluice.TestCounters())
	}
}

func TestRefusesBadConfig(t *testing.T) {
	for _, cfg := range [][]string{{"mask=ab"}, {"mask= "}, {"mask="}, {"keep_last=9"}, {"keep_last=-1"}, {"cards=yes"}, {"emails=1"}, {"colour=red"}} {
		_, err := sluice.RunTransform(New, cfg)
		var ce *sluice.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q accepted: %v", cfg, err)
		}
	}
}
