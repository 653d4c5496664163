package learning

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// fakeStore stores counts per offer, as the ledgers do.
type fakeStore struct {
	counts  []Count
	deleted [][]string
}

func (f *fakeStore) Counts(_ context.Context, offers []string) ([]Count, error) {
	var out []Count
	for _, c := range f.counts {
		if offers == nil || slices.Contains(offers, c.Offer) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeStore) ResetLearning(_ context.Context, offers []string) error {
	f.deleted = append(f.deleted, offers)
	f.counts = slices.DeleteFunc(f.counts, func(c Count) bool { return slices.Contains(offers, c.Offer) })
	return nil
}

// Reset says what it deleted, and deletes nothing when a named offer has
// no statistics or none are stored: a reset that reached nothing (a
// mistyped id, another prefix, a server counting elsewhere) used to be
// reported as done.
func TestReset(t *testing.T) {
	stored := func() *fakeStore {
		return &fakeStore{counts: []Count{
			{Offer: "a", Cell: "all", Day: 1, Trials: 10, Successes: 2},
			{Offer: "a", Cell: "vip", Day: 2, Trials: 5, Successes: 1},
			{Offer: "b", Cell: "all", Day: 1, Trials: 7, Successes: 0},
		}}
	}
	cases := []struct {
		name    string
		store   *fakeStore
		offers  []string
		want    []OfferTotal
		deleted [][]string
		missing []string // a *NoStatisticsError for these; nil with wantErr: for any offer
		wantErr bool
	}{
		{name: "one offer", store: stored(), offers: []string{"a"},
			want: []OfferTotal{{"a", 15, 3}}, deleted: [][]string{{"a"}}},
		{name: "every offer", store: stored(),
			want: []OfferTotal{{"a", 15, 3}, {"b", 7, 0}}, deleted: [][]string{{"a", "b"}}},
		{name: "an offer without statistics: nothing deleted", store: stored(), offers: []string{"a", "nope", "nope"},
			missing: []string{"nope"}, wantErr: true},
		{name: "nothing stored, offers named", store: &fakeStore{}, offers: []string{"a"},
			missing: []string{"a"}, wantErr: true},
		{name: "nothing stored at all", store: &fakeStore{}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Reset(context.Background(), c.store, c.offers)
			if !c.wantErr {
				if err != nil || !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(c.store.deleted, c.deleted) {
					t.Errorf("Reset(%v) = %v, %v, deleted %v; want %v, deleted %v", c.offers, got, err, c.store.deleted, c.want, c.deleted)
				}
				return
			}
			var ns *NoStatisticsError
			if !errors.As(err, &ns) || !slices.Equal(ns.Offers, c.missing) {
				t.Fatalf("Reset(%v): %v, want a NoStatisticsError for %v", c.offers, err, c.missing)
			}
			if len(c.store.deleted) != 0 {
				t.Errorf("Reset(%v) failed but deleted %v: it must delete nothing when it fails", c.offers, c.store.deleted)
			}
		})
	}
}
