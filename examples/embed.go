// Package examples holds Arbiter's example rulesets, embedded so that the
// binary carries them: `arbiter demo` serves the checkout example with
// generated profiles (see examples/profilegen).
package examples

import "embed"

// Checkout is the example ruleset of an online shop: the directory
// examples/checkout (profile schema, segments, offers, the experiment,
// arbitration and the rule tests), rooted at "checkout". Use
// fs.Sub(Checkout, "checkout") to get the rules directory itself, e.g. for
// rulefiles.LoadFS (adapters/rulefiles). It is read-only.
//
//go:embed checkout
var Checkout embed.FS
