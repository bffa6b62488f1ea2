// Package benchfmt holds what the benchmark reports (bench/cmd/benchreport, and bench/peers/cmd/peerreport in
// its own module) share: how a time is written and how a set of measurements is summed up.
package benchfmt

import (
	"math"
	"slices"
	"strconv"
)

// Dur formats nanoseconds with three significant digits and a unit: "8.26 µs", "3.47 ms"; "–" for NaN.
func Dur(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e9:
		return Sig3(ns/1e9) + " s"
	case ns >= 1e6:
		return Sig3(ns/1e6) + " ms"
	case ns >= 1e3:
		return Sig3(ns/1e3) + " µs"
	}
	return Sig3(ns) + " ns"
}

// Sig3 formats v, at least 1, with three significant digits (with two decimals below 10).
func Sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// Spread returns the median of xs (the mean of the middle two for an even count), its smallest and its
// largest; NaN for all three when xs is empty.
func Spread(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return med, s[0], s[len(s)-1]
}
