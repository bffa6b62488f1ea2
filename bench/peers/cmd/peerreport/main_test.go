package main

import (
	"math"
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
