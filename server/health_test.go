package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/toolgate/toolgate/receipts/tlog"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
)

// stoppedLog is the real store, reporting the error with which a log stops after a failed write or sync (the
// store's own test, TestLogStats in registry/badger, makes a real write fail).
type stoppedLog struct{ *tgbadger.Store }

func (l stoppedLog) LogStats() tlog.Stats {
	st := l.Store.LogStats()
	st.Err = errors.New("receipt log stopped: log segment sync: input/output error")
	return st
}

// TestReadyz_LogStopped checks that a server whose log has stopped says it is not ready, so that a load
// balancer sends calls, which would all fail, elsewhere; and that /metrics shows it.
func TestReadyz_LogStopped(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	running := startGov(t, nil)
	if status, _ := get(running.url + "/readyz"); status != 200 {
		t.Errorf("/readyz of a server whose log runs: %d, want 200", status)
	}
	stopped := startGov(t, func(c *Config) { c.Log = stoppedLog{c.Store.(*tgbadger.Store)} })
	if status, body := get(stopped.url + "/readyz"); status != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Errorf("/readyz with the log stopped: %d %s, want 503 unavailable", status, body)
	}
	if _, body := get(stopped.url + "/metrics"); !strings.Contains(body, "\ntoolgate_log_failed 1\n") {
		t.Error("/metrics does not show toolgate_log_failed 1 with the log stopped")
	}
	if _, body := get(running.url + "/metrics"); !strings.Contains(body, "\ntoolgate_log_failed 0\n") {
		t.Error("/metrics does not show toolgate_log_failed 0 with the log running")
	}
}
