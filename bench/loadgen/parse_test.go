package loadgen

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    CPUTime
		wantErr bool
	}{
		{
			name: "plain",
			in:   "4242 (arbiter) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 37 0 0 20 0 9 0 123456 1234567 890 18446744073709551615\n",
			want: CPUTime{User: 2500 * time.Millisecond, System: 370 * time.Millisecond},
		},
		{
			name: "command with spaces and parentheses",
			in:   "77 (my (weird) cmd) R 1 77 77 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 6 7",
			want: CPUTime{User: 10 * time.Millisecond, System: 20 * time.Millisecond},
		},
		{name: "no command", in: "4242 arbiter S 1", wantErr: true},
		{name: "too short", in: "4242 (arbiter) S 1 2 3", wantErr: true},
		{name: "not a number", in: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 2 0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseProcStat([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestReadCPUSelf(t *testing.T) {
	a, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	// Burn a little CPU until the reading moves (bounded): the parser reads
	// the right fields if they grow with our own work.
	deadline := time.Now().Add(5 * time.Second)
	x := 0
	for {
		for i := 0; i < 1_000_000; i++ {
			x += i ^ x
		}
		b, err := ReadCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if b.Total() > a.Total() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time did not grow in 5 s of work (%v): wrong fields? (%d)", b, x)
		}
	}
}

const commandStats = `# Commandstats
cmdstat_hgetall:calls=1204,usec=2001,usec_per_call=1.66,rejected_calls=0,failed_calls=0
cmdstat_evalsha:calls=50,usec=900,usec_per_call=18.00,rejected_calls=0,failed_calls=1
cmdstat_client|list:calls=3,usec=40,usec_per_call=13.33,rejected_calls=0,failed_calls=0
cmdstat_info:calls=7,usec=300,usec_per_call=42.86,rejected_calls=0,failed_calls=0
`

func TestParseCommandStats(t *testing.T) {
	got, err := ParseCommandStats(strings.ReplaceAll(commandStats, "\n", "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"hgetall": 1204, "evalsha": 50, "client|list": 3, "info": 7}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	after := map[string]uint64{"hgetall": 2204, "evalsha": 50, "client|list": 3, "info": 9, "unlink": 4}
	d := CommandDelta(got, after, "info")
	if want := map[string]uint64{"hgetall": 1000, "unlink": 4}; !reflect.DeepEqual(d, want) {
		t.Errorf("delta %v, want %v", d, want)
	}
	if Sum(d) != 1004 {
		t.Errorf("sum %d, want 1004", Sum(d))
	}
	for _, bad := range []string{"cmdstat_get calls=1", "cmdstat_get:usec=1", "cmdstat_get:calls=x"} {
		if _, err := ParseCommandStats(bad); err == nil {
			t.Errorf("ParseCommandStats(%q) = nil error", bad)
		}
	}
}

const promText = `# HELP arbiter_decisions_total Decision requests.
# TYPE arbiter_decisions_total counter
arbiter_decisions_total{placement="checkout",result="ok"} 1200
arbiter_decisions_total{placement="cart",result="degraded"} 30
arbiter_decisions_total{placement="checkout",result="degraded"} 12
arbiter_events_published_total 1240
arbiter_events_dropped_total 2
arbiter_events_buffered 0
arbiter_decision_duration_seconds_bucket{le="+Inf"} 1242
go_gc_duration_seconds{quantile="0.5"} 1.5e-05
weird_metric{label="has } brace"} 3 1700000000000
`

func TestParsePromText(t *testing.T) {
	s, err := ParsePromText(promText)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"arbiter_decisions_total", nil, 1242},
		{"arbiter_decisions_total", []string{`result="degraded"`}, 42},
		{"arbiter_decisions_total", []string{`result="degraded"`, `placement="cart"`}, 30},
		{"arbiter_events_published_total", nil, 1240},
		{"arbiter_events_dropped_total", nil, 2},
		{"arbiter_decision_duration_seconds_bucket", nil, 1242},
		{"go_gc_duration_seconds", nil, 1.5e-05},
		{"weird_metric", nil, 3},
		{"absent", nil, 0},
	}
	for _, tt := range tests {
		if got := SumMetric(s, tt.name, tt.labels...); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("SumMetric(%s, %v) = %g, want %g", tt.name, tt.labels, got, tt.want)
		}
	}
	for _, bad := range []string{"novalue", "x{a=\"b\" 1", "x abc"} {
		if _, err := ParsePromText(bad); err == nil {
			t.Errorf("ParsePromText(%q) = nil error", bad)
		}
	}
}

func TestCPUModel(t *testing.T) {
	in := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := CPUModel(in); got != "AMD EPYC 7B13" {
		t.Errorf("CPUModel = %q", got)
	}
	if got := CPUModel("processor: 0\n"); got != "unknown" {
		t.Errorf("CPUModel without model name = %q", got)
	}
}

func TestParseInfoCPU(t *testing.T) {
	info := strings.ReplaceAll("# CPU\nused_cpu_sys:0.424185\nused_cpu_user:12.604729\nused_cpu_sys_children:3.000000\n"+
		"used_cpu_user_children:4.000000\nused_cpu_sys_main_thread:0.422863\nused_cpu_user_main_thread:0.606028\n", "\n", "\r\n")
	got, err := ParseInfoCPU(info)
	if err != nil {
		t.Fatal(err)
	}
	if want := (CPUTime{User: 12604729 * time.Microsecond, System: 424185 * time.Microsecond}); got != want {
		t.Errorf("ParseInfoCPU = %+v, want %+v (the server's own, not its children's or its main thread's)", got, want)
	}
	for _, bad := range []string{"", "# CPU\nused_cpu_sys:0.5\n", "used_cpu_sys:x\nused_cpu_user:1\n", "used_cpu_sys:-1\nused_cpu_user:1\n"} {
		if _, err := ParseInfoCPU(bad); err == nil {
			t.Errorf("ParseInfoCPU(%q) = nil error", bad)
		}
	}
}
