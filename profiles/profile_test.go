package profiles

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arbiterhq/arbiter/rules"
)

// testSchema has one field of every type, some with defaults.
func testSchema() *rules.Schema {
	return &rules.Schema{Fields: []rules.Field{
		{Name: "ltv", Type: rules.TypeNumber},
		{Name: "orders", Type: rules.TypeInt},
		{Name: "last_order_at", Type: rules.TypeTime},
		{Name: "tier", Type: rules.TypeString, Default: "basic"},
		{Name: "tags", Type: rules.TypeStringList},
		{Name: "vip", Type: rules.TypeBool},
		{Name: "scores", Type: rules.TypeNumberList, Default: []float64{1}},
		{Name: "churn_risk", Type: rules.TypeNumber, Default: 0.5},
	}}
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var t2026 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestFromJSON(t *testing.T) {
	schema := testSchema()
	tests := []struct {
		name    string
		in      string
		want    map[string]any // checked keys only
		wantErr []string       // substrings of the error
	}{
		{
			name: "full",
			in:   `{"id":"c1","ltv":1500.5,"orders":7,"last_order_at":"2026-11-01T08:00:00+08:00","tier":"gold","tags":["a","b"],"vip":true,"scores":[1,2.5],"extra":{"x":1}}`,
			want: map[string]any{"id": "c1", "known": true, "ltv": 1500.5, "orders": 7, "last_order_at": t2026, "tier": "gold",
				"tags": []string{"a", "b"}, "vip": true, "scores": []float64{1, 2.5}, "churn_risk": 0.5},
		},
		{
			name: "defaults",
			in:   `{"id":"c2"}`,
			want: map[string]any{"id": "c2", "known": true, "ltv": 0.0, "orders": 0, "last_order_at": time.Time{}, "tier": "basic",
				"tags": []string{}, "vip": false, "scores": []float64{1}, "churn_risk": 0.5},
		},
		{
			name: "null is missing",
			in:   `{"id":"c3","tier":null,"orders":null}`,
			want: map[string]any{"tier": "basic", "orders": 0},
		},
		{
			name: "unix seconds and date",
			in:   `{"id":"c4","last_order_at":1793491200}`,
			want: map[string]any{"last_order_at": t2026},
		},
		{
			name: "unix seconds as a string, bare date",
			in:   `{"id":"c4","last_order_at":"2026-11-01"}`,
			want: map[string]any{"last_order_at": t2026},
		},
		{
			name: "numeric id",
			in:   `{"id":1042}`,
			want: map[string]any{"id": "1042"},
		},
		{name: "missing id", in: `{"ltv":1}`, wantErr: []string{"profile.id: missing"}},
		{
			name:    "wrong types, all reported",
			in:      `{"id":"c5","ltv":"lots","orders":1.5,"tags":["a",1],"vip":"yes","last_order_at":"yesterday","scores":"1,2"}`,
			wantErr: []string{"profile.ltv: want a number", "profile.orders: want a whole number", "profile.tags: [1]: want a string", "profile.vip: want true or false", "profile.last_order_at: want an RFC 3339", "profile.scores: want an array of numbers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FromJSON(schema, mustJSON(t, tt.in))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				var fe FieldErrors
				if !errors.As(err, &fe) {
					t.Fatalf("error %T is not FieldErrors", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !p.Known || p.Value("known") != true {
				t.Error("not known")
			}
			for k, w := range tt.want {
				if got := p.Value(k); !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
			for _, f := range schema.Fields {
				if _, ok := p.Lookup(f.Name); !ok {
					t.Errorf("field %s missing from Attrs", f.Name)
				}
			}
		})
	}
}

func TestFromJSONYAMLTypes(t *testing.T) {
	p, err := FromJSON(testSchema(), map[string]any{"id": "y", "orders": int64(3), "ltv": 10, "last_order_at": t2026.In(time.FixedZone("x", 3600))})
	if err != nil {
		t.Fatal(err)
	}
	if p.Value("orders") != 3 || p.Value("ltv") != 10.0 || p.Value("last_order_at").(time.Time).Location() != time.UTC {
		t.Errorf("attrs %#v", p.AttrMap())
	}
}

func TestFromHash(t *testing.T) {
	schema := testSchema()
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]any
		wantBad []string
	}{
		{
			name: "full",
			in: map[string]string{"ltv": "1500.5", "orders": "7", "last_order_at": "2026-11-01T00:00:00Z", "tier": "gold",
				"tags": `["a","b"]`, "vip": "true", "scores": "[3]", "unknown": "x"},
			want: map[string]any{"id": "c1", "known": true, "ltv": 1500.5, "orders": 7, "last_order_at": t2026, "tier": "gold",
				"tags": []string{"a", "b"}, "vip": true, "scores": []float64{3}, "churn_risk": 0.5},
		},
		{
			name: "unix seconds, fractional, whole float int",
			in:   map[string]string{"last_order_at": "1793491200.5", "orders": "7.0"},
			want: map[string]any{"last_order_at": t2026.Add(500 * time.Millisecond), "orders": 7},
		},
		{
			name: "empty values are missing, not bad",
			in:   map[string]string{"ltv": "", "tier": "", "tags": ""},
			want: map[string]any{"ltv": 0.0, "tier": "", "tags": []string{}},
		},
		{
			name:    "bad values counted and defaulted",
			in:      map[string]string{"ltv": "NaN", "orders": "seven", "vip": "yes", "tags": "a,b", "scores": `["x"]`, "last_order_at": "soon", "churn_risk": "1e999"},
			want:    map[string]any{"ltv": 0.0, "orders": 0, "vip": false, "tags": []string{}, "scores": []float64{1}, "churn_risk": 0.5},
			wantBad: []string{"ltv", "orders", "last_order_at", "tags", "vip", "scores", "churn_risk"},
		},
		{
			// null is no string and no number: ["a",null] read as ["a",""]
			// and [12.5,null] as [12.5,0], neither counted.
			name:    "a list with null is bad",
			in:      map[string]string{"tags": `["a",null]`, "scores": `[12.5, null]`},
			want:    map[string]any{"tags": []string{}, "scores": []float64{1}},
			wantBad: []string{"tags", "scores"},
		},
		{
			name: "lists of strings with commas, JSON, null as text",
			in:   map[string]string{"tags": ` ["a,b", "{\"x\":1}", "null"] `, "scores": `[-0, 1e3]`},
			want: map[string]any{"tags": []string{"a,b", `{"x":1}`, "null"}, "scores": []float64{0, 1000}},
		},
		{
			// RFC 3339's T and Z may be lower case, and its date and time
			// may be separated by a space (Python's str(datetime), SQL).
			name: "times: lower case t, an offset",
			in:   map[string]string{"last_order_at": "2026-11-01t08:00:00+08:00"},
			want: map[string]any{"last_order_at": t2026},
		},
		{
			name: "times: lower case z",
			in:   map[string]string{"last_order_at": "2026-11-01t00:00:00.5z"},
			want: map[string]any{"last_order_at": t2026.Add(500 * time.Millisecond)},
		},
		{
			name: "times: a space between date and time",
			in:   map[string]string{"last_order_at": "2026-11-01 02:00:00+02:00"},
			want: map[string]any{"last_order_at": t2026},
		},
		{
			name: "times: the first second of year 0000 in Unix seconds",
			in:   map[string]string{"last_order_at": "-62167219200"},
			want: map[string]any{"last_order_at": time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		},
		{
			// Before year 0000 a time has no RFC 3339 form: import stored
			// "-6060-01-02T00:00:01Z", which the server read as bad.
			name:    "times: before year 0000, without a zone, with an offset without colon",
			in:      map[string]string{"last_order_at": "-62167219201", "orders": "x"},
			want:    map[string]any{"last_order_at": time.Time{}},
			wantBad: []string{"orders", "last_order_at"},
		},
		{
			name:    "times: without a zone is bad",
			in:      map[string]string{"last_order_at": "2026-11-01 08:00:00"},
			want:    map[string]any{"last_order_at": time.Time{}},
			wantBad: []string{"last_order_at"},
		},
		{
			name:    "times: an offset without its colon is bad",
			in:      map[string]string{"last_order_at": "2026-11-01T08:00:00+0800"},
			want:    map[string]any{"last_order_at": time.Time{}},
			wantBad: []string{"last_order_at"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, bad := FromHash(schema, "c1", tt.in)
			if !reflect.DeepEqual(bad, tt.wantBad) {
				t.Errorf("bad = %q, want %q", bad, tt.wantBad)
			}
			for k, w := range tt.want {
				if got := p.Value(k); !reflect.DeepEqual(got, w) {
					t.Errorf("%s = %#v, want %#v", k, got, w)
				}
			}
		})
	}
}

func TestToHashRoundTrip(t *testing.T) {
	schema := testSchema()
	in := mustJSON(t, `{"id":"c1","ltv":12.25,"orders":3,"last_order_at":1793491200,"tags":["x"],"vip":false,"bogus":1}`)
	id, fields, err := ToHash(schema, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["bogus"]; ok || fields["last_order_at"] != "2026-11-01T00:00:00Z" {
		t.Errorf("fields %v", fields)
	}
	pj, _ := FromJSON(schema, in)
	ph, bad := FromHash(schema, id, fields)
	if len(bad) > 0 || pj.ID != ph.ID || pj.Known != ph.Known || !reflect.DeepEqual(pj.AttrMap(), ph.AttrMap()) {
		t.Errorf("round trip:\n json %#v\n hash %#v (bad %v)", pj.AttrMap(), ph.AttrMap(), bad)
	}
	_, raw, err := ToHash(nil, in)
	if err != nil || raw["bogus"] != "1" || raw["last_order_at"] != "1793491200" || raw["tags"] != `["x"]` {
		t.Errorf("schemaless %v %v", raw, err)
	}
}

func TestLineToHash(t *testing.T) {
	tests := []struct {
		line    string
		id      string
		fields  map[string]string
		wantErr string
	}{
		{line: `{"id":"c1","orders":2,"ltv":12345678901234567890}`, id: "c1", fields: map[string]string{"orders": "2", "ltv": "12345678901234567000"}},
		{line: ` {"id":"c2"} `, id: "c2", fields: map[string]string{}},
		{line: `[1]`, wantErr: "not a JSON object"},
		{line: `{"id":"c3"} {"id":"c4"}`, wantErr: "more than one JSON value on the line"},
		{line: `{"id":"c5","orders":"x"}`, wantErr: "profile.orders: want a whole number"},
		{line: `{"id":"c6","orders":12345678901234567890}`, wantErr: "profile.orders: want a whole number of at most 9007199254740992 in size"},
		{line: `{"id":"c7","orders":1.5}`, wantErr: "profile.orders: want a whole number, got 1.5"},
		{line: `{"tier":"gold"}`, wantErr: "profile.id: missing"},
		// a data team's export names the id otherwise: say which key to rename
		{line: `{"customer_id":"c8","tier":"gold"}`, wantErr: `profile.id: missing, but "customer_id" is given: name it "id"`},
		{line: `{"ID":"c9"}`, wantErr: `profile.id: missing, but "ID" is given: name it "id"`},
		{line: "\ufeff{\"id\":\"c10\"}", id: "c10", fields: map[string]string{}},
	}
	for _, tt := range tests {
		id, fields, err := LineToHash(testSchema(), []byte(tt.line))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || id != tt.id || !reflect.DeepEqual(fields, tt.fields) {
			t.Errorf("%s: %q %v %v, want %q %v", tt.line, id, fields, err, tt.id, tt.fields)
		}
	}
	// Without a schema the values are stored as given, numbers exactly.
	if _, fields, err := LineToHash(nil, []byte(`{"id":"r1","n":12345678901234567890}`)); err != nil || fields["n"] != "12345678901234567890" {
		t.Errorf("schemaless: %v %v", fields, err)
	}
}

// FuzzFromHash checks that no stored value panics the decoder, that every
// decoded value has its field's Go type, that the shared decoder reads the
// same, and that a decoded value stored again reads back as itself.
func FuzzFromHash(f *testing.F) {
	for _, s := range []string{"", "1", "-1.5", "true", "2026-11-01T00:00:00Z", "1793491200", `["a"]`, "[1,2]", "NaN", "1e400", "2026-02-30", `[`, "9223372036854775808", `[1,null]`, "-253402300799", "2026-11-01t08:00:00z"} {
		f.Add(s, s)
	}
	schema := testSchema()
	f.Fuzz(func(t *testing.T, a, b string) {
		in := map[string]string{}
		for i, fl := range schema.Fields {
			if i%2 == 0 {
				in[fl.Name] = a
			} else {
				in[fl.Name] = b
			}
		}
		p, bad := FromHash(schema, "id", in)
		// The shared decoder reads the same values.
		ps, sbad := FromHashShared(schema, "id", in, NewShared(schema))
		if !reflect.DeepEqual(bad, sbad) {
			t.Fatalf("bad: FromHash %v, FromHashShared %v", bad, sbad)
		}
		// A decoded value stored again (HashValue, as profiles import
		// stores it) reads back as itself, never as bad.
		again := map[string]string{}
		for _, fl := range schema.Fields {
			again[fl.Name] = HashValue(p.Value(fl.Name))
		}
		q, qbad := FromHash(schema, "id", again)
		if len(qbad) > 0 {
			t.Fatalf("stored again %v: bad %v", again, qbad)
		}
		for _, fl := range schema.Fields {
			v := p.Value(fl.Name)
			if !reflect.DeepEqual(v, ps.Value(fl.Name)) {
				t.Fatalf("%s: FromHash %#v, FromHashShared %#v", fl.Name, v, ps.Value(fl.Name))
			}
			if !reflect.DeepEqual(v, q.Value(fl.Name)) {
				t.Fatalf("%s: %#v stored again as %q reads %#v", fl.Name, v, again[fl.Name], q.Value(fl.Name))
			}
			ok := false
			switch fl.Type {
			case rules.TypeString:
				_, ok = v.(string)
			case rules.TypeInt:
				_, ok = v.(int)
			case rules.TypeNumber:
				_, ok = v.(float64)
			case rules.TypeBool:
				_, ok = v.(bool)
			case rules.TypeTime:
				var tm time.Time
				tm, ok = v.(time.Time)
				ok = ok && tm.Location() == time.UTC
			case rules.TypeStringList:
				_, ok = v.([]string)
			case rules.TypeNumberList:
				_, ok = v.([]float64)
			}
			if !ok {
				t.Fatalf("%s: %T %#v", fl.Name, v, v)
			}
		}
	})
}

// FuzzFromJSON checks that no JSON profile panics the decoder, and that a
// profile it accepts round-trips through the hash form.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`{"id":"c1","ltv":1,"orders":2,"last_order_at":"2026-11-01T00:00:00Z","tags":["a"],"vip":true,"scores":[1]}`,
		`{"id":1}`, `{"id":"x","orders":1e300}`, `{"id":"x","last_order_at":-1e20}`, `{"id":"x","tags":[null]}`, `{}`} {
		f.Add(s)
	}
	schema := testSchema()
	f.Fuzz(func(t *testing.T, s string) {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		p, err := FromJSON(schema, m)
		if err != nil {
			return
		}
		id, fields, err := ToHash(schema, m)
		if err != nil {
			t.Fatalf("FromJSON accepted, ToHash refused: %v", err)
		}
		q, bad := FromHash(schema, id, fields)
		if len(bad) > 0 {
			t.Fatalf("round trip: bad %v from %v", bad, fields)
		}
		for _, fl := range schema.Fields {
			if !reflect.DeepEqual(p.Value(fl.Name), q.Value(fl.Name)) {
				t.Fatalf("%s: json %#v, hash %#v", fl.Name, p.Value(fl.Name), q.Value(fl.Name))
			}
		}
	})
}

// BenchmarkFromHash: decoding a stored profile.
func BenchmarkFromHash(b *testing.B) {
	schema := testSchema()
	f := map[string]string{"ltv": "1500.25", "orders": "7", "last_order_at": "2026-11-01T00:00:00Z", "tier": "gold",
		"tags": `["a","b"]`, "vip": "true", "scores": "[1,2]", "churn_risk": "0.3"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		FromHash(schema, "c1", f)
	}
}
