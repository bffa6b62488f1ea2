// Command peerreport runs the peer comparison of bench/peers several times and writes its section of
// docs/BENCHMARKS.md: fuel counts (wasmtime against Toolgate), kernel times with and without fuel on both
// engines, and the cost of a fresh instance.
//
// Each round is a fresh process of the compiled test binary (go test -c) running BenchmarkKernels and
// BenchmarkFreshInstance -count times, every subject in turn, so a noisy neighbour hits all subjects of a round
// alike; every run of a benchmark compiles its module afresh. The tables show medians over all runs with their
// range. The fuel counts are computed in this process, once per
// round, with fresh engines each time.
//
//	cd bench/peers && go test -c -o ../out/peers.test . &&
//	go run ./cmd/peerreport -test ../out/peers.test -out ../out/peers.md -splice ../../docs/BENCHMARKS.md
//
// bench/peers/run.sh does exactly that. The section is written between the markers Begin and End; -splice
// replaces what is between them in an existing report (bench/cmd/benchreport writes the same markers), or
// appends the section when the report has none.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/toolgate/toolgate/bench/peers"
)

// The markers around the section; bench/cmd/benchreport writes the same two lines.
const (
	Begin = "<!-- peers:begin -->"
	End   = "<!-- peers:end -->"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peerreport:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		testBin   = flag.String("test", "", "the compiled test binary of bench/peers (go test -c); required")
		root      = flag.String("root", peers.DefaultRoot, "the repository root, relative to the working directory")
		rounds    = flag.Int("rounds", 7, "fresh processes")
		count     = flag.Int("count", 2, "-test.count: runs of every benchmark in each process, each compiling afresh")
		benchtime = flag.String("benchtime", "100ms", "-test.benchtime of each benchmark")
		out       = flag.String("out", "", "write the section here")
		splice    = flag.String("splice", "", "replace the section in this report (or append it)")
		raw       = flag.String("raw", "", "also write the benchmark output of every round here")
		commit    = flag.String("commit", "", "git describe --always --dirty of the checkout; default: asked from git")
	)
	flag.Parse()
	if *testBin == "" || *rounds < 1 || *count < 1 {
		flag.Usage()
		return errors.New("-test is required, and -rounds and -count must be at least 1")
	}
	if *commit == "" {
		c, err := exec.Command("git", "describe", "--always", "--dirty").Output()
		if *commit = strings.TrimSpace(string(c)); err != nil || *commit == "" {
			*commit = "unknown"
		}
	}
	m := meta{
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Commit: *commit, Rounds: *rounds,
		Count: *count, Benchtime: *benchtime, LoadStart: loadavg(), NProc: goruntime.NumCPU(),
		Cmd: fmt.Sprintf("peers.test -test.run '^$' -test.bench '%s' -test.benchtime %s -test.count %d -test.benchmem",
			benchPattern, *benchtime, *count),
	}
	started := time.Now()
	var (
		rawOut bytes.Buffer
		counts [][]peers.Count
	)
	for i := 1; i <= *rounds; i++ {
		fmt.Fprintf(os.Stderr, "== peerreport: round %d/%d\n", i, *rounds)
		c, err := peers.Counts(*root, peers.CountCalls)
		if err != nil {
			return err
		}
		counts = append(counts, c)
		cmd := exec.Command(*testBin, "-test.run", "^$", "-test.bench", benchPattern, "-test.benchtime", *benchtime,
			"-test.count", strconv.Itoa(*count), "-test.benchmem")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, os.Stderr
		if err := cmd.Run(); err != nil {
			os.Stderr.Write(buf.Bytes())
			return fmt.Errorf("round %d: %s: %w", i, *testBin, err)
		}
		os.Stderr.Write(buf.Bytes())
		rawOut.Write(buf.Bytes())
	}
	m.LoadEnd, m.Elapsed = loadavg(), time.Since(started).Round(time.Second)
	res, err := parseBench(bytes.NewReader(rawOut.Bytes()))
	if err != nil {
		return err
	}
	if *raw != "" {
		if err := os.WriteFile(*raw, rawOut.Bytes(), 0o644); err != nil {
			return err
		}
	}
	m.CPU, m.GoVersion = res.cpu, goruntime.Version()
	section := Begin + "\n" + write(m, counts, res) + End + "\n"
	if *out != "" {
		if err := os.WriteFile(*out, []byte(section), 0o644); err != nil {
			return err
		}
	}
	if *splice != "" {
		doc, err := os.ReadFile(*splice)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*splice, []byte(Splice(string(doc), section)), 0o644); err != nil {
			return err
		}
	}
	if *out == "" && *splice == "" {
		fmt.Print(section)
	}
	return nil
}

// benchPattern selects the benchmarks of a round.
const benchPattern = "^Benchmark(Kernels|FreshInstance)$"

// Splice returns doc with the text between Begin and End (markers included) replaced by section, or with
// section appended, after a blank line, when doc has no complete pair of markers.
func Splice(doc, section string) string {
	i := strings.Index(doc, Begin)
	j := strings.Index(doc, End)
	if i < 0 || j < i {
		return strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	rest := strings.TrimPrefix(doc[j+len(End):], "\n")
	return doc[:i] + section + rest
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
