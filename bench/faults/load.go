package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/arbiterhq/arbiter/bench/loadgen"
)

// answer is what the suite reads of a decision.
type answer struct {
	DecisionID string `json:"decision_id"`
	Ruleset    string `json:"ruleset"`
	Actions    []struct {
		OfferID string `json:"offer_id"`
	} `json:"actions"`
	Degraded []string `json:"degraded"`
}

func (a *answer) has(offer string) bool {
	for _, x := range a.Actions {
		if x.OfferID == offer {
			return true
		}
	}
	return false
}

func (a *answer) degraded(what string) bool {
	for _, d := range a.Degraded {
		if d == what {
			return true
		}
	}
	return false
}

// sample is one request of a load and what came back.
type sample struct {
	worker, target, seq int
	customer            string
	start, end          time.Time
	status              int  // 0: no answer (err)
	reused              bool // sent on a keep-alive connection used before
	err                 error
	ans                 answer
	body                []byte
}

// loadCfg describes a load: workers, each with a keep-alive connection of
// its own to one of the targets, closed loop or at a fixed total rate.
type loadCfg struct {
	targets []string
	workers int
	rate    float64 // requests per second over all workers; 0: closed loop
	path    string  // default /v1/decide
	timeout time.Duration
	// body makes the request body of a worker's seq-th request.
	body func(worker, seq int) (customer string, body []byte)
	// onSample sees every answered or failed request, from the worker's
	// goroutine.
	onSample func(*sample)
	// stopOnRefused: a worker whose target refuses connections stops
	// (the target is shutting down).
	stopOnRefused bool
}

// runLoad runs the load until ctx is done.
func runLoad(ctx context.Context, cfg loadCfg) {
	if cfg.path == "" {
		cfg.path = "/v1/decide"
	}
	if cfg.timeout == 0 {
		cfg.timeout = 5 * time.Second
	}
	var tokens chan struct{}
	if cfg.rate > 0 {
		tokens = make(chan struct{}, cfg.workers)
		go pace(ctx, cfg.rate, tokens)
	}
	var wg sync.WaitGroup
	for w := 0; w < cfg.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConns: 1, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
				IdleConnTimeout: time.Minute, DisableCompression: true,
				DialContext: (&net.Dialer{Timeout: time.Second}).DialContext}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: cfg.timeout}
			target := w % len(cfg.targets)
			for seq := 0; ctx.Err() == nil; seq++ {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				customer, body := cfg.body(w, seq)
				s := &sample{worker: w, target: target, seq: seq, customer: customer}
				do(ctx, client, "http://"+cfg.targets[target]+cfg.path, body, s)
				if cfg.onSample != nil {
					cfg.onSample(s)
				}
				if s.err != nil && errKind(s.err) == "refused" {
					if cfg.stopOnRefused {
						return
					}
					// a target down: do not spin
					select {
					case <-time.After(20 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

// pace sends rate tokens a second; tokens not taken are not banked beyond
// the channel's capacity.
func pace(ctx context.Context, rate float64, tokens chan<- struct{}) {
	start := time.Now()
	var sent int64
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := int64(now.Sub(start).Seconds() * rate)
			for ; sent < due; sent++ {
				select {
				case tokens <- struct{}{}:
				default:
					sent = due // the workers are behind: skip
				}
			}
		}
	}
}

func do(ctx context.Context, client *http.Client, url string, body []byte, s *sample) {
	s.start = time.Now()
	defer func() { s.end = time.Now() }()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		s.err = err
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { s.reused = info.Reused }}))
	resp, err := client.Do(req)
	if err != nil {
		s.err = err
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.status = resp.StatusCode
	s.body = b
	if err != nil {
		s.err = err
		s.status = 0
		return
	}
	if s.status == http.StatusOK && strings.HasSuffix(url, "/v1/decide") {
		if err := json.Unmarshal(b, &s.ans); err != nil {
			s.err = fmt.Errorf("answer not JSON: %w", err)
		}
	}
}

// errKind names a transport error: refused (no listener), reset (the
// connection was cut under a request: RST, EOF or a closed keep-alive),
// timeout, other.
func errKind(err error) string {
	var op *net.OpError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &op) && op.Op == "dial":
		// The connection was never made (a reset of the handshake: the
		// listener closed with it in its backlog): the request was not
		// sent, as with a refusal.
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), strings.Contains(err.Error(), "server closed idle connection"),
		strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case strings.Contains(err.Error(), "Timeout"), strings.Contains(err.Error(), "timeout"),
		errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "answer not JSON"):
		return "bad answer"
	}
	return "other: " + err.Error()
}

// stats are the usual figures of a load.
type stats struct {
	mu        sync.Mutex
	sent      int
	status    map[int]int
	errs      map[string]int
	hist      *hdrhistogram.Histogram
	grants    map[string]int
	degraded  map[string]int
	noActions int
	versions  map[string]int
}

func newStats() *stats {
	return &stats{status: map[int]int{}, errs: map[string]int{}, hist: loadgen.NewHistogram(),
		grants: map[string]int{}, degraded: map[string]int{}, versions: map[string]int{}}
}

func (st *stats) add(s *sample) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sent++
	if s.err != nil {
		st.errs[errKind(s.err)]++
		return
	}
	st.status[s.status]++
	loadgen.Record(st.hist, s.end.Sub(s.start))
	if s.status != http.StatusOK {
		return
	}
	for _, a := range s.ans.Actions {
		st.grants[a.OfferID]++
	}
	for _, d := range s.ans.Degraded {
		st.degraded[d]++
	}
	if len(s.ans.Actions) == 0 {
		st.noActions++
	}
	st.versions[s.ans.Ruleset]++
}

func (st *stats) ok() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.status[http.StatusOK]
}

// allOK reports whether the load sent requests and every one was answered
// 200: a load that sent nothing shows nothing and must not pass.
func (st *stats) allOK() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sent > 0 && st.status[http.StatusOK] == st.sent
}

// okShare is the share of requests answered 200, in percent.
func (st *stats) okShare() float64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.sent == 0 {
		return 0
	}
	return 100 * float64(st.status[http.StatusOK]) / float64(st.sent)
}

func (st *stats) latency() loadgen.Percentiles {
	st.mu.Lock()
	defer st.mu.Unlock()
	return loadgen.Summarize(st.hist)
}

// failures describes what was not a 200, "none" when all were.
func (st *stats) failures() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var parts []string
	for code, n := range st.status {
		if code != http.StatusOK {
			parts = append(parts, fmt.Sprintf("%d × %d", n, code))
		}
	}
	for k, n := range st.errs {
		parts = append(parts, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ms formats microseconds as milliseconds.
func ms(us int64) string { return fmt.Sprintf("%.1f ms", float64(us)/1000) }

// decideBody is a decision request for a customer with a one-line USD cart
// of 50.00 (every discount of the suite's rules applies to it).
func decideBody(customer string) []byte {
	return []byte(`{"customer_id":"` + customer + `","placement":"checkout","channel":"web",` +
		`"cart":{"currency":"USD","items":[{"sku":"SKU-1","category":"shoes","price":50.00,"quantity":1}]}}`)
}

// uniqueCustomers makes every request a new customer of the run.
func uniqueCustomers(run string) func(w, seq int) (string, []byte) {
	return func(w, seq int) (string, []byte) {
		c := fmt.Sprintf("c-%s-%d-%d", run, w, seq)
		return c, decideBody(c)
	}
}
