package loadgen

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CapsOptions say how DeriveCapped changes a ruleset.
type CapsOptions struct {
	// Share of the offers (0..1) that get a fleet-wide total cap and a
	// budget, rounded up: 0.1 of 17 offers is 2.
	Share float64
	// Total and Budget are the limits set: large enough that they do not
	// run out during a benchmark, so every grant of these offers reserves.
	Total  int64
	Budget float64
	// StripExisting removes every caps block first (a ruleset without any
	// ledger work, before the share is added back).
	StripExisting bool
	// Hold, when not empty, is written as the added caps' `hold` (a
	// duration such as "30m"): every grant of these offers is then a hold
	// and a grant record, written in the same ledger call (issue 15).
	Hold string
}

// offerRef is an offer's mapping node in a parsed file.
type offerRef struct {
	file     string
	id       string
	node     *yaml.Node
	discount bool
	capped   bool
	schedule bool
	priority float64
}

// DeriveCapped copies the rules directory src into dst (which must not
// exist or be empty) and adds caps {total, budget} to a share of its offers,
// preferring discount offers without caps or schedule (always eligible, so
// the caps are exercised), by priority, then id. It returns the ids of the
// offers it capped. Test files (*_test.yaml) are not copied: their
// expectations may not hold under the new caps.
func DeriveCapped(src, dst string, o CapsOptions) ([]string, error) {
	docs := map[string]*yaml.Node{}
	var offers []*offerRef
	var files []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, "_test.yaml") {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("loadgen: %s: %w", path, err)
		}
		docs[rel] = &doc
		files = append(files, rel)
		for _, n := range offerNodes(&doc) {
			r := &offerRef{file: rel, node: n}
			r.id = scalar(mapGet(n, "id"))
			r.discount = scalar(mapGet(n, "kind")) == "discount"
			r.capped = mapGet(n, "caps") != nil
			r.schedule = mapGet(n, "schedule") != nil
			r.priority, _ = strconv.ParseFloat(scalar(mapGet(n, "priority")), 64)
			if o.StripExisting && r.capped {
				mapDelete(n, "caps")
				r.capped = false
			}
			offers = append(offers, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: reading rules %s: %w", src, err)
	}
	if len(offers) == 0 {
		return nil, fmt.Errorf("loadgen: no offers under %s", src)
	}
	chosen := chooseCapped(offers, o.Share)
	var ids []string
	for _, r := range chosen {
		caps := mapGet(r.node, "caps")
		if caps == nil {
			caps = &yaml.Node{Kind: yaml.MappingNode}
			mapSet(r.node, "caps", caps)
		}
		mapSet(caps, "total", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(o.Total, 10)})
		mapSet(caps, "budget", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(o.Budget, 'f', -1, 64)})
		if o.Hold != "" {
			mapSet(caps, "hold", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: o.Hold})
		}
		ids = append(ids, r.id)
	}
	for _, rel := range files {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(docs[rel]); err != nil {
			return nil, fmt.Errorf("loadgen: writing %s: %w", rel, err)
		}
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// chooseCapped picks ceil(share × len(offers)) offers: discount offers
// first, then those without caps, then without a schedule, then by
// priority (highest first) and id.
func chooseCapped(offers []*offerRef, share float64) []*offerRef {
	n := int(math.Ceil(share*float64(len(offers)) - 1e-9))
	if n <= 0 {
		return nil
	}
	if n > len(offers) {
		n = len(offers)
	}
	s := append([]*offerRef(nil), offers...)
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	sort.SliceStable(s, func(i, j int) bool {
		a, c := s[i], s[j]
		if a.discount != c.discount {
			return a.discount
		}
		if a.capped != c.capped {
			return b(a.capped) < b(c.capped)
		}
		if a.schedule != c.schedule {
			return b(a.schedule) < b(c.schedule)
		}
		if a.priority != c.priority {
			return a.priority > c.priority
		}
		return a.id < c.id
	})
	return s[:n]
}

func offerNodes(doc *yaml.Node) []*yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	seq := mapGet(doc.Content[0], "offers")
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.Node
	for _, n := range seq.Content {
		if n.Kind == yaml.MappingNode {
			out = append(out, n)
		}
	}
	return out
}

func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func mapDelete(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
