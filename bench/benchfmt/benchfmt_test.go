package benchfmt

import (
	"math"
	"testing"
)

func TestDur(t *testing.T) {
	for ns, want := range map[float64]string{
		math.NaN(): "–", 7.5: "7.50 ns", 8260: "8.26 µs", 3.47e6: "3.47 ms", 12.5e6: "12.5 ms", 271e6: "271 ms", 2e9: "2.00 s",
	} {
		if got := Dur(ns); got != want {
			t.Errorf("Dur(%v) = %q, want %q", ns, got, want)
		}
	}
}

func TestSpread(t *testing.T) {
	if med, lo, hi := Spread([]float64{3, 1, 2}); med != 2 || lo != 1 || hi != 3 {
		t.Errorf("odd: got %v %v %v", med, lo, hi)
	}
	if med, lo, hi := Spread([]float64{4, 1, 2, 3}); med != 2.5 || lo != 1 || hi != 4 {
		t.Errorf("even: got %v %v %v", med, lo, hi)
	}
	in := []float64{2, 1}
	Spread(in)
	if in[0] != 2 {
		t.Errorf("Spread sorted its input")
	}
	if med, _, _ := Spread(nil); !math.IsNaN(med) {
		t.Errorf("empty: got %v, want NaN", med)
	}
}
