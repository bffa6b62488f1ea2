package server_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/sdk/client"
)

// metricValue returns the value of the sample written exactly as name (labels included) in a Prometheus text
// exposition.
func metricValue(t *testing.T, body, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in /metrics", name)
	return 0
}

// TestLog_Metrics checks what /metrics tells an operator about the receipt log after calls: its size as the
// store has it, commits that hold every leaf written since the start, a commit-time histogram that counts each
// commit, an index lag within the log, and a log that has not stopped.
func TestLog_Metrics(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	h.push(t, "echo", "1.0.0", plugins.WAT("echo"), "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := h.c.Invoke(ctx, "echo", []byte(`{}`), client.InvokeOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	status, _, _, raw := h.raw(t, "GET", "/metrics", nil, nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	body := string(raw)
	size, err := h.store.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size < 24 {
		t.Fatalf("tree size %d after 24 calls", size)
	}
	if got := metricValue(t, body, "toolgate_log_leaves"); got != float64(size) {
		t.Errorf("toolgate_log_leaves %v, want the tree size %d", got, size)
	}
	commits := metricValue(t, body, "toolgate_log_commits_total")
	if got := metricValue(t, body, "toolgate_log_committed_leaves_total"); got != float64(size) || commits < 1 || commits > got {
		t.Errorf("%v leaves in %v commits, want all %d leaves of a log started empty", got, commits, size)
	}
	if n := metricValue(t, body, "toolgate_log_commit_duration_seconds_count"); n != commits {
		t.Errorf("commit-time histogram counts %v commits, want %v", n, commits)
	}
	if n := metricValue(t, body, `toolgate_log_commit_duration_seconds_bucket{le="+Inf"}`); n != commits {
		t.Errorf("+Inf bucket %v, want %v", n, commits)
	}
	if sum := metricValue(t, body, "toolgate_log_commit_duration_seconds_sum"); sum <= 0 {
		t.Errorf("commit-time sum %v, want > 0", sum)
	}
	if n := metricValue(t, body, "toolgate_log_unindexed_leaves"); n < 0 || n > float64(size) {
		t.Errorf("toolgate_log_unindexed_leaves %v outside [0, %d]", n, size)
	}
	if n := metricValue(t, body, "toolgate_log_failed"); n != 0 {
		t.Errorf("toolgate_log_failed %v, want 0", n)
	}
	want := 0.0
	if h.store.LogStats().SyncPriority {
		want = 1
	}
	if n := metricValue(t, body, "toolgate_log_sync_priority_raised"); n != want {
		t.Errorf("toolgate_log_sync_priority_raised %v, want %v, what the store reports", n, want)
	}
}
