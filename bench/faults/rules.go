package main

import (
	"os"
	"path/filepath"
)

// writeRules writes a rules directory: a profile with one field, the
// arbitration (up to 4 actions) and offers.yaml with the given offers
// (YAML list items), in USD.
func writeRules(dir, offers string) error {
	files := map[string]string{
		"profile.yaml":       "profile:\n  ltv: number\n",
		"arbitration.yaml":   "arbitration:\n  max_actions: 4\n",
		"offers/offers.yaml": offersFile(offers),
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func offersFile(offers string) string {
	return "currency: USD\noffers:\n" + offers
}

// alwaysOffer is an uncapped action every decision gets.
const alwaysOffer = `  - id: always
    kind: action
    title: Join the club
    priority: 1
`
