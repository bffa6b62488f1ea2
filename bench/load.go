package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toolgate/toolgate/sdk/client"
)

// LoadOptions configure one Load run. It stops when Requests have been sent or Duration has passed, whichever
// comes first; requests in flight at the deadline finish and count.
type LoadOptions struct {
	Client      *client.Client
	Tool        string
	Input       []byte
	Want        []byte // the expected output; a different one counts as an error
	Concurrency int    // workers, each with one request in flight
	Requests    int    // 0: no bound
	Duration    time.Duration
}

// LoadResult is what one Load run measured. Latencies are of successful requests, as the client saw them.
type LoadResult struct {
	Tool        string        `json:"tool"`
	Concurrency int           `json:"concurrency"`
	Requests    int           `json:"requests"` // successful
	Errors      int           `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	RPS         float64       `json:"rps"` // successful requests per second
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	Max         time.Duration `json:"max_ns"`
}

// check says what o lacks to be run.
func (o LoadOptions) check() error {
	if o.Concurrency < 1 || (o.Requests <= 0 && o.Duration <= 0) {
		return errors.New("bench: load needs a concurrency and a bound (requests or duration)")
	}
	return nil
}

// Load invokes o.Tool with o.Input from o.Concurrency workers and measures throughput and latency. A success is
// a 200 with the expected output and a receipt id.
func Load(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if err := o.check(); err != nil {
		return LoadResult{}, err
	}
	var p part
	p.run(ctx, o)
	return p.result(o), ctx.Err()
}

// LoadInterleaved runs several loads side by side in time: in turns of slice each, one after the other, until
// each has run for its Duration or sent its Requests, and returns their results in order, each the sum of its
// turns. Load from elsewhere on the machine, which comes and goes over seconds, then falls on every load alike,
// so that their ratios are steadier than those of loads run one after the other. observe, if not nil, is called
// around each turn (before with start true, after with false), for measures such as CPU time.
func LoadInterleaved(ctx context.Context, loads []LoadOptions, slice time.Duration, observe func(i int, start bool)) ([]LoadResult, error) {
	if slice <= 0 {
		return nil, errors.New("bench: interleaved loads need a slice")
	}
	parts := make([]part, len(loads))
	for _, o := range loads {
		if err := o.check(); err != nil {
			return nil, err
		}
	}
	for ctx.Err() == nil {
		ran := false
		for i, o := range loads {
			p := &parts[i]
			if o.Duration > 0 && p.elapsed >= o.Duration || o.Requests > 0 && p.sent >= int64(o.Requests) {
				continue
			}
			turn := o
			turn.Duration = slice
			if o.Duration > 0 {
				turn.Duration = min(slice, o.Duration-p.elapsed)
			}
			if o.Requests > 0 {
				turn.Requests = o.Requests - int(p.sent)
			}
			if observe != nil {
				observe(i, true)
			}
			p.run(ctx, turn)
			if observe != nil {
				observe(i, false)
			}
			ran = true
		}
		if !ran {
			break
		}
	}
	out := make([]LoadResult, len(loads))
	for i, o := range loads {
		out[i] = parts[i].result(o)
	}
	return out, ctx.Err()
}

// part is what one or more turns of a load measured.
type part struct {
	lat     []time.Duration // of successful requests
	sent    int64
	errs    int
	errMsg  string
	elapsed time.Duration
}

// run runs one turn of o and adds what it measured.
func (p *part) run(ctx context.Context, o LoadOptions) {
	var (
		sent     atomic.Int64
		errCount atomic.Int64
		firstErr sync.Once
		errMsg   string
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, o.Concurrency)
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if o.Requests > 0 && sent.Add(1) > int64(o.Requests) {
					return
				}
				t0 := time.Now()
				if !deadline.IsZero() && t0.After(deadline) {
					return
				}
				res, err := o.Client.Invoke(ctx, o.Tool, o.Input, client.InvokeOptions{})
				d := time.Since(t0)
				switch {
				case err == nil && string(res.Output) != string(o.Want):
					err = fmt.Errorf("got %q, want %q: %w", res.Output, o.Want, ErrOutput)
				case err == nil && res.Receipt == "":
					err = errors.New("no receipt id in the response")
				}
				if err != nil {
					errCount.Add(1)
					firstErr.Do(func() { errMsg = err.Error() })
					continue
				}
				lat[w] = append(lat[w], d)
			}
		}()
	}
	wg.Wait()
	p.elapsed += time.Since(start)
	for _, l := range lat {
		p.lat = append(p.lat, l...)
	}
	p.errs += int(errCount.Load())
	p.sent = int64(len(p.lat) + p.errs)
	if p.errMsg == "" {
		p.errMsg = errMsg
	}
}

// result is the LoadResult of every turn so far.
func (p *part) result(o LoadOptions) LoadResult {
	all := slices.Clone(p.lat)
	slices.Sort(all)
	r := LoadResult{Tool: o.Tool, Concurrency: o.Concurrency, Requests: len(all), Errors: p.errs,
		FirstError: p.errMsg, Elapsed: p.elapsed}
	if p.elapsed > 0 {
		r.RPS = float64(len(all)) / p.elapsed.Seconds()
	}
	if len(all) > 0 {
		q := func(x float64) time.Duration { return all[min(len(all)-1, int(x*float64(len(all))))] }
		r.P50, r.P90, r.P99, r.Max = q(0.50), q(0.90), q(0.99), all[len(all)-1]
	}
	return r
}
