package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// DecidePath is the route every generated request goes to.
const DecidePath = "/v1/decide"

// Client sends requests to one or more servers (replicas) on the loopback
// interface, spreading them round-robin.
type Client struct {
	// Inspect, when set, sees the body of every 200 answer (from many
	// goroutines at once): for probes, not for measurements.
	Inspect func(body []byte)

	hosts   []*fasthttp.HostClient
	uris    []string
	timeout time.Duration
	next    atomic.Uint64
}

// CheckLoopback returns an error unless addr (HOST:PORT) names the loopback
// interface: the harness never loads anything but the machine it runs on.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("loadgen: target %q: %w (want HOST:PORT, e.g. 127.0.0.1:8080)", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: target %q is not a loopback address: the harness only loads this machine (use 127.0.0.1)", addr)
	}
	return nil
}

// NewClient returns a client of the servers at addrs (HOST:PORT, loopback
// only), with up to conns connections to each and a per-request timeout.
func NewClient(addrs []string, conns int, timeout time.Duration) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("loadgen: no target address")
	}
	c := &Client{timeout: timeout}
	for _, a := range addrs {
		if err := CheckLoopback(a); err != nil {
			return nil, err
		}
		c.hosts = append(c.hosts, &fasthttp.HostClient{
			Addr:                a,
			Name:                "arbiter-bench",
			MaxConns:            conns,
			MaxConnWaitTimeout:  timeout,
			ReadTimeout:         timeout,
			WriteTimeout:        timeout,
			MaxIdleConnDuration: time.Minute,
		})
		c.uris = append(c.uris, "http://"+a+DecidePath)
	}
	return c, nil
}

// Close closes the idle connections.
func (c *Client) Close() {
	for _, h := range c.hosts {
		h.CloseIdleConnections()
	}
}

// do sends one body; it returns the status (0 on a transport error), the
// response body's size and the error.
func (c *Client) do(req *fasthttp.Request, resp *fasthttp.Response, body []byte) (int, int, error) {
	i := int(c.next.Add(1)-1) % len(c.hosts)
	req.Reset()
	req.SetRequestURI(c.uris[i])
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	resp.Reset()
	if err := c.hosts[i].DoTimeout(req, resp, c.timeout); err != nil {
		return 0, 0, err
	}
	if c.Inspect != nil && resp.StatusCode() == fasthttp.StatusOK {
		c.Inspect(resp.Body())
	}
	return resp.StatusCode(), len(resp.Body()), nil
}

// Result is what one load run measured.
type Result struct {
	Mode    string           `json:"mode"` // "closed" or "open"
	Conns   int              `json:"conns"`
	Rate    float64          `json:"rate,omitempty"` // intended requests/s (open loop)
	Elapsed time.Duration    `json:"elapsed_ns"`
	Sent    int64            `json:"sent"`
	OK      int64            `json:"ok"`     // 200 answers
	Errors  map[string]int64 `json:"errors"` // by status or transport error
	// Throughput is 200 answers per second: in the closed loop, those
	// received within its duration, over it; in the open loop, all of
	// them over Elapsed.
	Throughput float64 `json:"throughput"`
	// Latency: closed loop, from send to answer; open loop, from the
	// intended start to the answer (what a caller at that rate sees).
	Latency Percentiles `json:"latency"`
	// Service is, in the open loop, the time from the actual send to the
	// answer; Lag, how late the harness sent (its own delay plus queueing
	// for a free connection).
	Service *Percentiles `json:"service,omitempty"`
	Lag     *Percentiles `json:"lag,omitempty"`
	// RespBytes is the mean size of a 200 answer's body.
	RespBytes float64 `json:"resp_bytes"`

	// Start is when the open loop's first request was meant to go; Samples
	// are its answered requests, for During (not in the JSON report).
	Start   time.Time  `json:"start,omitzero"`
	Samples []Answered `json:"-"`
}

// Answered is one answered request of an open loop: when it was meant to
// start and when it was answered, from the loop's Start.
type Answered struct{ At, Done time.Duration }

// shard is a set of histograms shared by a few workers (a histogram is
// about 190 KB: one per worker would cost too much with hundreds of them).
type shard struct {
	mu            sync.Mutex
	lat, svc, lag *hdrhistogram.Histogram
}

const shards = 8

func newShards() []*shard {
	out := make([]*shard, shards)
	for i := range out {
		out[i] = &shard{lat: NewHistogram(), svc: NewHistogram(), lag: NewHistogram()}
	}
	return out
}

// worker is one sender's counters.
type worker struct {
	sh        *shard
	sent, ok  int64
	inTime    int64 // closed loop: 200 answers received by its deadline
	respBytes int64
	errs      map[string]int64
	samples   []Answered // open loop only
}

func newWorker(sh *shard) *worker {
	return &worker{sh: sh, errs: map[string]int64{}}
}

func (w *worker) record(lat, svc, lag time.Duration, open bool) {
	w.sh.mu.Lock()
	Record(w.sh.lat, lat)
	if open {
		Record(w.sh.svc, svc)
		Record(w.sh.lag, lag)
	}
	w.sh.mu.Unlock()
}

func (w *worker) outcome(status, size int, err error) bool {
	w.sent++
	switch {
	case err != nil:
		w.errs[errName(err)]++
		return false
	case status != fasthttp.StatusOK:
		w.errs[strconv.Itoa(status)]++
		return false
	}
	w.ok++
	w.respBytes += int64(size)
	return true
}

func errName(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no_free_conns"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return "conn_closed"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "net_" + op.Op
	}
	return "transport"
}

func merge(mode string, conns int, elapsed time.Duration, ws []*worker, shs []*shard) Result {
	r := Result{Mode: mode, Conns: conns, Elapsed: elapsed, Errors: map[string]int64{}}
	lat, svc, lag := NewHistogram(), NewHistogram(), NewHistogram()
	var bytes int64
	for _, w := range ws {
		r.Sent += w.sent
		r.OK += w.ok
		bytes += w.respBytes
		for k, v := range w.errs {
			r.Errors[k] += v
		}
	}
	for _, sh := range shs {
		lat.Merge(sh.lat)
		svc.Merge(sh.svc)
		lag.Merge(sh.lag)
	}
	if elapsed > 0 {
		r.Throughput = float64(r.OK) / elapsed.Seconds()
	}
	if r.OK > 0 {
		r.RespBytes = float64(bytes) / float64(r.OK)
	}
	r.Latency = Summarize(lat)
	if mode == "open" {
		sv, lg := Summarize(svc), Summarize(lag)
		r.Service, r.Lag = &sv, &lg
	}
	return r
}

// ClosedLoop runs conns connections, each sending its next request as soon
// as the previous one is answered, for d or until maxRequests were sent
// (0: no bound), and returns what it measured: the throughput of a
// saturated server (the 200 answers received within d, over d).
func ClosedLoop(ctx context.Context, c *Client, mix *Mix, conns int, d time.Duration, maxRequests int64) Result {
	ws := make([]*worker, conns)
	shs := newShards()
	var budget atomic.Int64
	budget.Store(maxRequests)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range ws {
		w := newWorker(shs[i%shards])
		ws[i] = w
		g := mix.Generator()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var body []byte
			for ctx.Err() == nil {
				if maxRequests > 0 && budget.Add(-1) < 0 {
					return
				}
				body, _ = g.Next(body[:0])
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				status, size, err := c.do(req, resp, body)
				done := time.Now()
				if w.outcome(status, size, err) {
					w.record(done.Sub(t0), 0, 0, false)
					if !done.After(deadline) {
						w.inTime++
					}
				}
			}
		}()
	}
	wg.Wait()
	r := merge("closed", conns, time.Since(start), ws, shs)
	// The throughput is that of the run's duration: the answers received
	// within it, over it (or over the run, when the request bound ended it
	// sooner). The requests still in flight at its end are answered and
	// counted (OK, latency), but the time they took past it, while the
	// other connections had stopped, is no part of what the server did at
	// this concurrency.
	var inTime int64
	for _, w := range ws {
		inTime += w.inTime
	}
	if window := min(r.Elapsed, d); window > 0 {
		r.Throughput = float64(inTime) / window.Seconds()
	}
	return r
}

// OpenLoop sends requests at a fixed rate for d, each at its intended
// start (Schedule), from up to workers concurrent senders, and measures
// latency from the intended start. When every worker is busy, requests go
// out late and their latency includes the wait: the figures are those of a
// caller arriving at that rate, not of a polite one. When ctx ends before
// every request was sent, it returns what was measured with an error.
func OpenLoop(ctx context.Context, c *Client, mix *Mix, rate float64, d time.Duration, workers int) (Result, error) {
	s, err := NewSchedule(time.Now().Add(10*time.Millisecond), rate, d)
	if err != nil {
		return Result{}, err
	}
	var next atomic.Int64
	ws := make([]*worker, workers)
	shs := newShards()
	var wg sync.WaitGroup
	for i := range ws {
		w := newWorker(shs[i%shards])
		w.samples = make([]Answered, 0, s.N/int64(workers)+16)
		ws[i] = w
		g := mix.Generator()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var body []byte
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				i := next.Add(1) - 1
				if i >= s.N {
					return
				}
				body, _ = g.Next(body[:0])
				intended := s.At(i)
				if wait := time.Until(intended); wait > 0 {
					timer.Reset(wait)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				sent := time.Now()
				status, size, err := c.do(req, resp, body)
				done := time.Now()
				if w.outcome(status, size, err) {
					w.record(done.Sub(intended), done.Sub(sent), sent.Sub(intended), true)
					w.samples = append(w.samples, Answered{At: intended.Sub(s.Start), Done: done.Sub(s.Start)})
				}
			}
		}()
	}
	wg.Wait()
	r := merge("open", workers, time.Since(s.Start), ws, shs)
	r.Rate, r.Start = rate, s.Start
	r.Samples = make([]Answered, 0, r.OK)
	for _, w := range ws {
		r.Samples = append(r.Samples, w.samples...)
	}
	slices.SortFunc(r.Samples, func(a, b Answered) int { return cmp.Compare(a.At, b.At) })
	if r.Sent < s.N {
		// Cut short: its figures are not those of the schedule.
		return r, fmt.Errorf("loadgen: the open loop was interrupted after %d of its %d requests (%v)", r.Sent, s.N, context.Cause(ctx))
	}
	return r, nil
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
