package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

func badInputScenario() scenario {
	return scenario{
		name: "bad-input",
		goal: "At least 100 kinds of bad request (not JSON, wrong types, ids with control characters, unknown currencies, huge bodies, " +
			"malformed HTTP such as Content-Length: abc or a header without a colon, wrong keys, methods and routes) against a server whose " +
			"Redis and NATS have passwords: no 5xx, nothing decided, counted or published, and no secret (API key, passwords) in any answer or log line",
		bound: 2 * time.Minute, shortBound: 60 * time.Second,
		run: runBadInput,
	}
}

// sendRaw sends raw bytes on a new connection and reads the answer's
// status and bytes (status 0: the connection closed without an answer).
func sendRaw(addr string, raw []byte) (int, []byte, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() { _, _ = c.Write(raw) }() // the server may answer (413) before reading it all
	b, err := io.ReadAll(c)
	if len(b) == 0 && err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, nil, fmt.Errorf("no answer within 5 s")
		}
	}
	if !bytes.HasPrefix(b, []byte("HTTP/1.")) || len(b) < 12 {
		return 0, b, nil
	}
	code, _ := strconv.Atoi(string(b[9:12]))
	if code == 100 { // Expect: 100-continue: the final answer follows
		if i := bytes.Index(b, []byte("\r\n\r\nHTTP/1.")); i >= 0 && len(b) >= i+16 {
			code, _ = strconv.Atoi(string(b[i+13 : i+16]))
		}
	}
	return code, b, nil
}

// state is what a bad request must not change: the capped offer's count,
// the grants and decisions metrics, Redis's keys and the stream's
// messages.
type state struct {
	capped, keys      int64
	grants, decisions float64
	msgs              uint64
}

func (s state) String() string {
	return fmt.Sprintf("capped counted %d, grants %.0f, decisions %.0f, Redis keys %d, stream messages %d", s.capped, s.grants, s.decisions, s.keys, s.msgs)
}

// stateOf reads the state; an error when any part of it cannot be read
// (a part read as zero before and after would show "nothing changed"
// without having looked).
func stateOf(ctx context.Context, a *proc, rdb *redis.Client, js jetstream.JetStream) (state, error) {
	var st state
	var b budgets
	if err := getJSON(ctx, a.addr, "/v1/budgets", &b); err != nil {
		return st, err
	}
	st.capped, _, _ = b.count("capped")
	if st.capped < 0 {
		return st, errors.New("GET /v1/budgets: no count of the offer capped")
	}
	var err error
	if st.grants, err = metric(ctx, a.addr, "arbiter_grants_total"); err != nil {
		return st, err
	}
	for _, res := range []string{`result="ok"`, `result="degraded"`} {
		n, err := metric(ctx, a.addr, "arbiter_decisions_total", res)
		if err != nil {
			return st, err
		}
		st.decisions += n
	}
	// Redis's keys, but the live experiment counters': they count the
	// stream's events off the request path, and write their keys when they
	// catch up on the good decisions made before (a bad request makes no
	// event, which the stream's count checks).
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.Contains(iter.Val(), "xs:{experiments}:") {
			st.keys++
		}
	}
	if err := iter.Err(); err != nil {
		return st, err
	}
	st.msgs, err = streamMessages(ctx, js, subjectPrefix)
	return st, err
}

// streamMessages is how many messages the stream of prefix.> holds.
func streamMessages(ctx context.Context, js jetstream.JetStream, prefix string) (uint64, error) {
	name, err := js.StreamNameBySubject(ctx, prefix+".>")
	if err != nil {
		return 0, fmt.Errorf("the stream of %s.>: %w", prefix, err)
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", name, err)
	}
	return info.State.Msgs, nil
}

func runBadInput(ctx context.Context, e *env, ps *procs, r *result) error {
	rules := filepath.Join(ps.dir, "rules")
	if err := writeRules(rules, alwaysOffer+bigCapOffer); err != nil {
		return err
	}
	rp, err := ps.startRedis(ctx, "redis", redisOpts{password: redisPass})
	if err != nil {
		return err
	}
	np, err := ps.startNATS(ctx, "nats", natsOpts{user: "arbiter", pass: natsPass})
	if err != nil {
		return err
	}
	a, err := e.startArbiter(ctx, ps, "arbiter", arbiterOpts{rules: rules,
		redis: "redis://:" + redisPass + "@" + rp.addr + "/0", nats: natsURL(np, "arbiter", natsPass),
		args: []string{"--subject-prefix", subjectPrefix, "--log-level", "debug"}})
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: rp.addr, Password: redisPass})
	defer rdb.Close()
	nc, err := nats.Connect(natsURL(np, "arbiter", natsPass))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// One good decision first, so that every counter exists.
	if code, b, err := sendRaw(a.addr, httpReq("POST", "/v1/decide", nil, `{"customer_id":"c-good",`+cartOK+`}`)); err != nil || code != 200 {
		return fmt.Errorf("a good decision: %d %s %v", code, b, err)
	}
	if _, ok := waitDrained(ctx, a.addr, 10*time.Second); !ok {
		return fmt.Errorf("the good decision's event was not published within 10 s")
	}
	before, err := stateOf(ctx, a, rdb, js)
	if err != nil {
		return err
	}
	// The state sees the good decision: its grant, count and event.
	if before.capped < 1 || before.grants < 1 || before.decisions < 1 || before.msgs < 1 || before.keys < 1 {
		return fmt.Errorf("the state does not show the good decision (%s): it would not show a bad request's change either", before)
	}
	reqs := corpus()
	secrets := []string{apiKey, redisPass, natsPass}
	statuses := map[int]int{}
	var fiveXX, echoed, noAnswer []string
	for _, q := range reqs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		code, b, err := sendRaw(a.addr, q.raw)
		statuses[code]++
		switch {
		case err != nil:
			noAnswer = append(noAnswer, q.name+": "+err.Error())
		case code == 0:
			noAnswer = append(noAnswer, q.name+": connection closed without an answer")
		case code >= 200 && code < 300 && code != 202:
			r.note("answered %d: %s", code, q.name)
		case code >= 500:
			fiveXX = append(fiveXX, fmt.Sprintf("%s: %d %.200s", q.name, code, b))
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				echoed = append(echoed, q.name)
			}
		}
	}
	// Let anything a bad request might have queued reach Redis and NATS.
	waitDrained(ctx, a.addr, 5*time.Second)
	after, err := stateOf(ctx, a, rdb, js)
	if err != nil {
		return err
	}
	// Every log line of the run, start-up included.
	logText, err := os.ReadFile(a.log)
	if err != nil {
		return err
	}
	var leaks []string
	for i, line := range strings.Split(string(logText), "\n") {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				leaks = append(leaks, fmt.Sprintf("line %d: %.160s", i+1, line))
			}
		}
	}
	var codes []string
	for c, n := range statuses {
		label := strconv.Itoa(c)
		if c == 0 {
			label = "no answer"
		}
		codes = append(codes, fmt.Sprintf("%s × %d", label, n))
	}
	sort.Strings(codes)
	r.key("kinds of bad request", "%d", len(reqs))
	r.add("answers", "%s", strings.Join(codes, ", "))
	r.key("5xx", "%d", len(fiveXX))
	r.add("state before", "%s", before)
	r.add("state after", "%s", after)
	r.key("nothing changed", "%v", before == after)
	r.key("answers echoing a secret", "%d", len(echoed))
	r.key("log lines with a secret", "%d of %d (the log at debug level)", len(leaks), strings.Count(string(logText), "\n"))
	r.add("connections closed without an answer", "%d", len(noAnswer))
	for _, n := range noAnswer {
		r.note("no answer: %s", n)
	}
	r.check(len(reqs) >= 100, "only %d kinds of bad request", len(reqs))
	r.check(len(fiveXX) == 0, "5xx answers: %s", strings.Join(fiveXX, "; "))
	r.check(before == after, "the bad requests changed something: before %s; after %s", before, after)
	r.check(len(echoed) == 0, "answers echoing a secret: %s", strings.Join(echoed, "; "))
	r.check(len(leaks) == 0, "log lines with a secret: %s", strings.Join(leaks, "; "))
	return nil
}
