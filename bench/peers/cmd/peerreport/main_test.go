package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

const benchOut = `goos: linux
cpu: Test CPU
BenchmarkKernels/sum/wazero+fuel-2         	     216	   1000000 ns/op	   1100000 cpu-ns/op	  12000002 fuel/op	       8 B/op	       1 allocs/op
BenchmarkFreshInstance/wasmtime-pooling-2  	   38494	      6000 ns/op	      7000 cpu-ns/op	     304 B/op	      13 allocs/op
PASS
BenchmarkKernels/sum/wazero+fuel-2         	     216	   3000000 ns/op	   1100000 cpu-ns/op	  12000002 fuel/op	       8 B/op	       1 allocs/op
BenchmarkKernels/sum/wazero+fuel-2         	     216	   2000000 ns/op	   1100000 cpu-ns/op	  12000002 fuel/op	       8 B/op	       1 allocs/op
`

func TestParseBench(t *testing.T) {
	res, err := parseBench(strings.NewReader(benchOut))
	if err != nil {
		t.Fatal(err)
	}
	if res.cpu != "Test CPU" {
		t.Errorf("cpu: got %q, want Test CPU", res.cpu)
	}
	if got := res.stat("Kernels/sum/wazero+fuel", "ns/op"); got != (stat{2e6, 1e6, 3e6}) {
		t.Errorf("ns/op: got %+v, want median 2e6 in [1e6, 3e6]", got)
	}
	if got := res.stat("Kernels/sum/wazero+fuel", "fuel/op"); got.med != 12000002 {
		t.Errorf("fuel/op: got %+v, want 12000002", got)
	}
	if got := res.series("FreshInstance/wasmtime-pooling", "allocs/op"); len(got) != 1 || got[0] != 13 {
		t.Errorf("allocs/op: got %v, want [13]", got)
	}
	if got := res.stat("Kernels/fib/wazero", "ns/op"); !math.IsNaN(got.med) {
		t.Errorf("missing benchmark: got %+v, want NaN", got)
	}
	if _, err := parseBench(strings.NewReader("PASS\n")); err == nil {
		t.Error("no results: got no error, want one")
	}
}

func TestSplice(t *testing.T) {
	section := Begin + "\nnew\n" + End + "\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"replace", "# R\n\n" + Begin + "\nold\n" + End + "\n", "# R\n\n" + section},
		{"replace in the middle", "# R\n" + Begin + "\nold\n" + End + "\ntail\n", "# R\n" + section + "tail\n"},
		{"append", "# R\n\ntext\n", "# R\n\ntext\n\n" + section},
		{"append after a lone marker", "# R\n" + End + "\n" + Begin + "\n", "# R\n" + End + "\n" + Begin + "\n\n" + section},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Splice(tc.doc, section); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGeomean(t *testing.T) {
	if got := geomean([]float64{1, 4, 16}); math.Abs(got-4) > 1e-12 {
		t.Errorf("got %g, want 4", got)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 12000002: "12,000,002", -126093: "−126,093"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d): got %s, want %s", n, got, want)
		}
	}
}

// TestWriteFresh checks that the fresh-instance section has a row for every subject, Toolgate's first, and
// Toolgate's ratios to wasmtime (pooling and on-demand) and to raw wazero.
func TestWriteFresh(t *testing.T) {
	// Two runs per subject; each run's time is the subject's base time, times 1 or 2, so every per-run ratio
	// equals the ratio of the medians.
	base := map[string]float64{"toolgate": 6000, "wazero": 24000, "wazero+fuel": 25000, "wasmtime": 12000,
		"wasmtime+fuel": 12500, "wasmtime-pooling": 3000, "wasmtime-pooling+fuel": 3200}
	var in strings.Builder
	in.WriteString("cpu: Test CPU\n")
	for _, k := range []float64{1, 2} {
		for s, ns := range base {
			fmt.Fprintf(&in, "BenchmarkFreshInstance/%s-2 \t 1000\t %g ns/op\t %g cpu-ns/op\t 300 B/op\t 13 allocs/op\n",
				s, k*ns, k*ns)
		}
	}
	res, err := parseBench(strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	writeFresh(func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }, res)
	out := w.String()

	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "| 300 B | 13 |") {
			rows = append(rows, strings.Fields(line)[1])
		}
	}
	want := []string{"toolgate", "wazero", "wazero+fuel", "wasmtime", "wasmtime+fuel", "wasmtime-pooling",
		"wasmtime-pooling+fuel"}
	if !slices.Equal(rows, want) {
		t.Errorf("rows: got %v, want %v", rows, want)
	}
	for _, line := range []string{
		"| toolgate | **9.00 µs** | 6.00 µs – 12.0 µs | 0.25× |",
		"| wasmtime-pooling | **2.00×** | 2.00× | 2.00× – 2.00× | +4.50 µs |",
		"| wasmtime | **0.50×** | 0.50× | 0.50× – 0.50× | −9.00 µs |",
		"| wazero | **0.25×** | 0.25× | 0.25× – 0.25× | −27.0 µs |",
		"costs 2.00× as much as wasmtime-go's fresh instance with the pooling allocator, 0.50× as much as with " +
			"its default (on-demand) allocator, and 0.25× as much as raw wazero's",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("missing %q in:\n%s", line, out)
		}
	}
}
