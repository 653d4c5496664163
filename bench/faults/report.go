package main

import (
	"fmt"
	"strings"
	"time"
)

// report is RELIABILITY.md.
type report struct {
	date            time.Time
	commit, machine string
	command         string
	short           bool
	results         []result
}

func (rep *report) markdown() string {
	var b strings.Builder
	b.WriteString("# Reliability\n\n")
	b.WriteString("What Arbiter does when its parts fail under load, measured by the fault suite (`bench/faults`, ")
	b.WriteString("docs/operations.md \"The fault suite\"): each scenario starts its own arbiter replicas, ")
	b.WriteString("redis-server and nats-server processes on free loopback ports, runs a load, breaks something ")
	b.WriteString("(kill -9, SIGSTOP, SIGTERM, broken files, bad requests) and measures what the clients and the ")
	b.WriteString("stores saw. Written by the suite; run it again to refresh:\n\n")
	fmt.Fprintf(&b, "```sh\n%s\n```\n\n", rep.command)
	mode := "full (each scenario as long as its goal says)"
	if rep.short {
		mode = "short (each scenario a few seconds, as in CI: the figures are from small samples)"
	}
	fmt.Fprintf(&b, "- date: %s\n- commit: `%s`\n- machine: %s\n- mode: %s\n\n", rep.date.Format("2006-01-02 15:04 MST"),
		rep.commit, rep.machine, mode)
	b.WriteString("| scenario | goal | result | key figures | took |\n|---|---|---|---|---|\n")
	for _, r := range rep.results {
		var key []string
		for _, f := range r.figures {
			if f.key {
				key = append(key, f.name+": "+f.value)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | **%s** | %s | %s |\n", r.name, mdEscape(r.goal), mdEscape(r.status),
			mdEscape(strings.Join(key, "; ")), r.took.Round(time.Second))
	}
	for _, r := range rep.results {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\nResult: **%s** (%s)\n\n", r.name, r.goal, r.status, r.took.Round(time.Second))
		if len(r.figures) > 0 {
			b.WriteString("| figure | value |\n|---|---|\n")
			for _, f := range r.figures {
				fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(f.name), mdEscape(f.value))
			}
			b.WriteString("\n")
		}
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}
