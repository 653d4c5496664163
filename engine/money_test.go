package engine

import (
	"encoding/json"
	"testing"
)

func TestToMinor(t *testing.T) {
	cases := []struct {
		major float64
		exp   int8
		want  int64
		ok    bool
	}{
		{60.25, 2, 6025, true},
		{1.005, 2, 101, true}, // half up on the decimal as written, not on its binary form
		{0.1, 2, 10, true},
		{4.5, 0, 5, true},
		{1250, 0, 1250, true},
		{1.0005, 3, 1001, true},
		{0.004, 2, 0, true},
		{-1.005, 2, -101, true},
		{1e16, 2, 0, false},
	}
	for _, c := range cases {
		got, ok := ToMinor(c.major, c.exp)
		if got != c.want || ok != c.ok {
			t.Errorf("ToMinor(%v, %d) = %d, %v; want %d, %v", c.major, c.exp, got, ok, c.want, c.ok)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	cases := []struct {
		m    Money
		want string
	}{
		{Money{1250, 2}, "12.50"},
		{Money{5, 2}, "0.05"},
		{Money{1250, 0}, "1250"},
		{Money{1125, 3}, "1.125"},
		{Money{0, 2}, "0.00"},
		{Money{-5, 2}, "-0.05"},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.m)
		if err != nil || string(b) != c.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", c.m, b, err, c.want)
		}
	}
}

func TestCurrencyExp(t *testing.T) {
	for code, want := range map[string]int8{"USD": 2, "EUR": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3} {
		if got, ok := CurrencyExp(code); !ok || got != want {
			t.Errorf("CurrencyExp(%s) = %d, %v; want %d", code, got, ok, want)
		}
	}
	for _, bad := range []string{"", "usd", "US", "USDX", "U$D", "XYZ", "AAA", "QQQ", "ZZZ"} {
		if _, ok := CurrencyExp(bad); ok {
			t.Errorf("CurrencyExp(%q) accepted", bad)
		}
	}
}
