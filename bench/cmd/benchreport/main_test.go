package main

import (
	"math"
	"strings"
	"testing"
)

const benchOut = `goos: linux
cpu: Test CPU
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   1000000 ns/op	    900000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     25000 ns/op	     20000 cpu-ns/op	   19000 B/op	      29 allocs/op
PASS
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   3000000 ns/op	    700000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     35000 ns/op	     30000 cpu-ns/op	   19000 B/op	      29 allocs/op
BenchmarkFreshSandbox/toolgate/echo-2   	     300	   2000000 ns/op	    800000 cpu-ns/op	 1300000 B/op	     243 allocs/op
BenchmarkFreshSandbox/wazero/echo-2     	   10000	     30000 ns/op	     25000 cpu-ns/op	   19000 B/op	      29 allocs/op
`

func TestParseBench(t *testing.T) {
	br, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(br.subjects, ","), "toolgate,wazero"; got != want {
		t.Errorf("subjects: got %s, want %s", got, want)
	}
	if br.procs != "2" || br.cpuName != "Test CPU" {
		t.Errorf("procs, cpu: got %q %q, want 2, Test CPU", br.procs, br.cpuName)
	}
	for _, tc := range []struct {
		name        string
		got         stat
		med, lo, hi float64
	}{
		{"toolgate ns", br.ns("toolgate", "echo"), 2e6, 1e6, 3e6},
		{"toolgate cpu", br.cpu("toolgate", "echo"), 8e5, 7e5, 9e5},
		{"wazero ns", br.ns("wazero", "echo"), 3e4, 2.5e4, 3.5e4},
	} {
		if tc.got.med != tc.med || tc.got.lo != tc.lo || tc.got.hi != tc.hi || tc.got.n != 3 {
			t.Errorf("%s: got %+v, want median %g in [%g, %g] over 3", tc.name, tc.got, tc.med, tc.lo, tc.hi)
		}
	}
}

func TestParseBench_Empty(t *testing.T) {
	if _, err := parseBench(strings.NewReader("PASS\n")); err == nil {
		t.Error("got no error for output without results, want one")
	}
}

func TestStatOf(t *testing.T) {
	for _, tc := range []struct {
		xs  []float64
		med float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7}, 7},
	} {
		if got := statOf(tc.xs).med; got != tc.med {
			t.Errorf("statOf(%v).med: got %g, want %g", tc.xs, got, tc.med)
		}
	}
	if got := statOf(nil).med; !math.IsNaN(got) {
		t.Errorf("statOf(nil).med: got %g, want NaN", got)
	}
}

func TestParseLoad(t *testing.T) {
	in := `{"round":1,"tool":"echo","concurrency":8,"requests":10,"errors":0,"elapsed_ns":1e9,"rps":10,"p50_ns":1,"p90_ns":2,"p99_ns":3,"max_ns":4,"cpu_per_request_ns":5,"cpu_cores":0.5}
`
	runs, err := parseLoad(strings.NewReader(in))
	if err != nil || len(runs) != 1 || runs[0].RPS != 10 || runs[0].CPUCores != 0.5 {
		t.Fatalf("got %+v, %v", runs, err)
	}
	if _, err := parseLoad(strings.NewReader(`{"round":1,"surprise":true}`)); err == nil {
		t.Error("got no error for an unknown field, want one")
	}
}

func TestDur(t *testing.T) {
	for _, tc := range []struct {
		ns   float64
		want string
	}{
		{512, "512 ns"}, {25400, "25.4 µs"}, {1090000, "1.09 ms"}, {2.5e9, "2.50 s"}, {math.NaN(), "–"},
	} {
		if got := dur(tc.ns); got != tc.want {
			t.Errorf("dur(%g): got %q, want %q", tc.ns, got, tc.want)
		}
	}
}

func TestWritePeers(t *testing.T) {
	for _, tc := range []struct {
		name, section, want string
	}{
		{"measured", peersBegin + "\n## Peer comparison: wasmtime\n\nfigures\n" + peersEnd + "\n", "figures"},
		{"unmarked", "## Peer comparison: wasmtime\n\nfigures\n", "figures"},
		{"not measured", "", "Not measured in this run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sb strings.Builder
			writePeers(&sb, tc.section)
			got := sb.String()
			if !strings.Contains(got, tc.want) || strings.Count(got, peersBegin) != 1 || strings.Count(got, peersEnd) != 1 ||
				strings.Index(got, peersBegin) > strings.Index(got, peersEnd) {
				t.Errorf("got %q, want %q between one pair of markers", got, tc.want)
			}
		})
	}
}
