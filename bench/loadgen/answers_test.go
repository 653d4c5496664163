package loadgen

import "testing"

func TestAnswers(t *testing.T) {
	a := NewAnswers()
	if got := a.String(); got != "no answers" {
		t.Errorf("empty: %q", got)
	}
	a.Add([]byte(`{"actions":[{"offer_id":"vip"},{"offer_id":"ship"}],"degraded":[]}`))
	a.Add([]byte(`{"actions":[{"offer_id":"ship"}],"degraded":["ledger_unavailable"]}`))
	a.Add([]byte(`{"actions":[],"degraded":["ledger_unavailable","profile_unavailable"]}`))
	a.Add([]byte(`not json`))
	want := "4 answers: 0.75 actions each, 1 not JSON; degraded 50% (ledger_unavailable 50%, profile_unavailable 25%); offers granted ship 50%, vip 25%"
	if got := a.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
