package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/sdk/client"
)

// TestLog_KillAndVerify calls the real server from many goroutines, kills it with SIGKILL while calls are in
// flight, restarts it, and checks with `toolgate receipts verify` — offline, against the public key — that every
// call that got its 200 has a receipt in the signed log, that the log after the restart extends the checkpoint
// kept before it, and that every entry audits.
func TestLog_KillAndVerify(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	addr := freeAddr(t)
	srv := serve(t, bin, data, addr)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := cli(t, bin, srv.url, data, nil, args...)
		if err != nil {
			t.Fatalf("toolgate %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	for name, mode := range map[string]os.FileMode{"log.key": 0o600, "log.pub": 0o644} {
		if fi, err := os.Stat(filepath.Join(data, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: got %v %v, want mode %v", name, fi.Mode(), err, mode)
		}
	}
	pub := filepath.Join(t.TempDir(), "log.pub") // the auditor's copy, taken once
	b, _ := os.ReadFile(filepath.Join(data, "log.pub"))
	os.WriteFile(pub, b, 0o644)
	kept := filepath.Join(t.TempDir(), "checkpoint")

	echo := filepath.Join(t.TempDir(), "echo.wasm")
	os.WriteFile(echo, plugins.WAT("echo"), 0o644)
	run("push", "echo@1.0.0", echo)
	tok, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	c := client.New(srv.url, strings.TrimSpace(string(tok)), &http.Client{Timeout: 10 * time.Second})
	ctx := context.Background()
	for i := range 20 {
		if _, err := c.Invoke(ctx, "echo", fmt.Appendf(nil, "warm %d", i), client.InvokeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if out := run("receipts", "verify", "--all", "--key", pub, "--checkpoint", kept); !strings.Contains(out, "ok: all 23 entries (20 receipts, 3 events)") {
		t.Fatalf("verify before the kill:\n%s", out)
	}

	// Calls from 16 goroutines; once 200 more have their 200, SIGKILL the server with calls still in flight.
	var mu sync.Mutex
	var acked []string
	var n atomic.Int64
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				res, err := c.Invoke(ctx, "echo", fmt.Appendf(nil, "%d/%d", w, i), client.InvokeOptions{})
				if err != nil {
					select {
					case <-killed:
						return // the server is gone: this call was not acknowledged
					default:
						t.Errorf("invoke: %v", err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, res.Receipt)
				mu.Unlock()
				if n.Add(1) == 200 {
					close(killed) // first, so that the calls the kill cuts off know why
					srv.kill()
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	srv = serve(t, bin, data, addr)
	out := run("receipts", "verify", "--all", "--key", pub, "--checkpoint", kept)
	m := regexp.MustCompile(`ok: all (\d+) entries \((\d+) receipts, 3 events\)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "ok: extends the kept checkpoint of 23 entries") {
		t.Fatalf("verify after the restart:\n%s", out)
	}
	var receiptsInLog int
	fmt.Sscan(m[2], &receiptsInLog)
	if receiptsInLog < 20+len(acked) {
		t.Errorf("log has %d receipts, but %d calls were acknowledged", receiptsInLog, 20+len(acked))
	}
	// Every acknowledged call, one by one, in batches of arguments.
	for len(acked) > 0 {
		k := min(len(acked), 50)
		out := run(append([]string{"receipts", "verify", "--key", pub}, acked[:k]...)...)
		if got := strings.Count(out, "\nok: rcpt_"); got != k {
			t.Fatalf("verify %d receipts: %d ok\n%s", k, got, out)
		}
		acked = acked[k:]
	}
}

// TestLog_VerifyCatchesALyingServer puts a proxy that tampers with answers between `toolgate receipts verify`
// and a real server, and checks that the report names what was changed, and where.
func TestLog_VerifyCatchesALyingServer(t *testing.T) {
	bin := binary(t)
	data := t.TempDir()
	srv := serve(t, bin, data, freeAddr(t))
	pub := filepath.Join(data, "log.pub")
	echo := filepath.Join(t.TempDir(), "echo.wasm")
	os.WriteFile(echo, plugins.WAT("echo"), 0o644)
	if _, errOut, err := cli(t, bin, srv.url, data, nil, "push", "echo@1.0.0", echo); err != nil {
		t.Fatal(errOut)
	}
	var ids []string
	for i := range 6 {
		_, errOut, err := cli(t, bin, srv.url, data, nil, "invoke", "echo", "--data", fmt.Sprint("call ", i))
		if err != nil {
			t.Fatal(errOut)
		}
		ids = append(ids, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errOut), "receipt:")))
	}
	// Entries 0-2 are the upload, publish and first pin; the calls are 3-8.
	tests := []struct {
		name    string
		entries func(es []map[string]any) []map[string]any
		receipt func(b []byte) []byte
		args    []string
		want    []string
	}{
		{name: "intact", args: []string{"--all"}, want: []string{"ok: all 9 entries (6 receipts, 3 events)"}},
		{name: "modified", entries: func(es []map[string]any) []map[string]any {
			es[4]["data"] = tamperB64(es[4]["data"].(string))
			return es
		}, args: []string{"--all"}, want: []string{"index 4 (" + ids[1] + "): modified"}},
		{name: "deleted", entries: func(es []map[string]any) []map[string]any {
			delete(es[6], "data")
			return es
		}, args: []string{"--all"}, want: []string{"index 6 (" + ids[3] + "): deleted"}},
		{name: "reordered", entries: func(es []map[string]any) []map[string]any {
			es[5]["data"], es[7]["data"] = es[7]["data"], es[5]["data"]
			return es
		}, args: []string{"--all"}, want: []string{"index 5 (" + ids[2] + "): reordered: holds the entry signed at index 7",
			"index 7 (" + ids[4] + "): reordered"}},
		{name: "one receipt modified", receipt: func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"status":"ok"`), []byte(`"status":"trap"`), 1)
		}, args: []string{ids[2]}, want: []string{ids[2] + ": modified"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			proxy := lyingProxy(t, srv.url, tc.entries, tc.receipt)
			out, errOut, err := cli(t, bin, proxy, data, nil, append([]string{"receipts", "verify", "--key", pub}, tc.args...)...)
			if (err == nil) != (tc.name == "intact") {
				t.Errorf("exit: got %v, stderr %q", err, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if err != nil && (!strings.Contains(errOut, "log verification failed") || strings.Count(strings.TrimSpace(errOut), "\n") != 0) {
				t.Errorf("stderr: got %q, want one line", errOut)
			}
		})
	}
}

// tamperB64 changes one byte of a base64 value.
func tamperB64(s string) string {
	var b []byte
	json.Unmarshal([]byte(`"`+s+`"`), &b)
	b = bytes.Replace(b, []byte(`"status":"ok"`), []byte(`"status":"OK"`), 1)
	out, _ := json.Marshal(b)
	return strings.Trim(string(out), `"`)
}

// lyingProxy serves the API of target, with /v1/log/entries pages passed through entries and receipts through
// receipt (either may be nil).
func lyingProxy(t *testing.T, target string, entries func([]map[string]any) []map[string]any, receipt func([]byte) []byte) string {
	t.Helper()
	u, _ := url.Parse(target)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		path := resp.Request.URL.Path
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		switch {
		case path == "/v1/log/entries" && entries != nil:
			var page struct {
				TreeSize int64            `json:"tree_size"`
				Entries  []map[string]any `json:"entries"`
			}
			if err := json.Unmarshal(b, &page); err != nil {
				return err
			}
			if len(page.Entries) > 0 {
				page.Entries = entries(page.Entries)
			}
			b, _ = json.Marshal(page)
		case strings.HasPrefix(path, "/v1/receipts/rcpt_") && !strings.HasSuffix(path, "/proof") && receipt != nil:
			b = receipt(b)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}
