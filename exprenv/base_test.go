package exprenv

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// cart.total_base: a load error in rules without a currency; with one, the
// total in the ruleset's currency, and a run-time error (ErrNoRate) only
// when an expression reads it for a cart whose currency has no rate.
func TestTotalBase(t *testing.T) {
	c := NewCompiler(Config{})
	x, errs := c.Compile(`cart.currency == "USD" && cart.total_base >= 50`, KindCond, "segment `big`: when")
	if x != nil || len(errs) != 1 || errs[0].Offset != 26 ||
		!strings.Contains(errs[0].Msg, "the rules name no `currency`") || !strings.Contains(errs[0].Hint, "currency: USD") {
		t.Fatalf("without a currency: %v, %+v", x, errs)
	}
	if _, errs := c.Compile(`cart["total_base"] > 1`, KindNumber, "amount"); len(errs) != 1 || errs[0].Offset != 0 {
		t.Fatalf("cart[\"total_base\"] without a currency: %+v", errs)
	}

	c = NewCompiler(Config{TotalBase: true})
	cond := mustCompile(t, c, KindCond, `cart.total_base >= 50`)
	short := mustCompile(t, c, KindCond, `cart.currency == "USD" || cart.total_base >= 50`)
	num := mustCompile(t, c, KindNumber, `min(20, cart.total_base / 10)`)
	plain := mustCompile(t, c, KindCond, `cart.total >= 50`)
	l := c.Finish(nil)
	if !cond.Fast() || !num.Fast() || !short.Fast() {
		t.Errorf("no fast form: %v %v %v", cond.Fast(), num.Fast(), short.Fast())
	}
	var e Env
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

	// a EUR cart of 46.30 with a rate: 50.00 USD
	e.Begin(l, &Input{Now: now, Currency: "EUR", Total: 46.30, TotalBase: 50.0, HasTotalBase: true})
	if v, err := e.Cond(cond); err != nil || !v {
		t.Errorf("EUR with a rate: %v, %v", v, err)
	}
	if v, err := e.Number(num); err != nil || v != 5 {
		t.Errorf("EUR with a rate: number %v, %v", v, err)
	}
	e.End()

	// a CHF cart, no rate: reading it is an error, a test that does not
	// reach it is none, and cart.total still works
	for _, vm := range []bool{false, true} {
		e.Begin(l, &Input{Now: now, Currency: "CHF", Total: 80})
		if vm {
			e.fill() // the program, not the fast path
			cond.cond, num.num = nil, nil
		}
		if _, err := e.Cond(cond); !errors.Is(err, ErrNoRate) || !strings.Contains(Message(err), "no exchange rate for CHF") {
			t.Errorf("vm=%v: CHF: %v, want ErrNoRate naming CHF", vm, err)
		}
		if _, err := e.Number(num); !errors.Is(err, ErrNoRate) {
			t.Errorf("vm=%v: CHF number: %v", vm, err)
		}
		if v, err := e.Cond(plain); err != nil || !v {
			t.Errorf("vm=%v: cart.total: %v, %v", vm, v, err)
		}
		e.End()
		e.Begin(l, &Input{Now: now, Currency: "USD", Total: 10})
		if v, err := e.Cond(short); err != nil || !v {
			t.Errorf("vm=%v: the or stops before total_base: %v, %v", vm, v, err)
		}
		e.End()
	}
}
