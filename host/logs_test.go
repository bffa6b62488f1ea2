package host

import (
	"fmt"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestLogRecorder_Caps(t *testing.T) {
	r := NewLogRecorder(2, 5)
	r.Log("info", "first line")
	r.Log("warn", "ok")
	r.Log("error", "dropped")
	want := []LogLine{{"info", "first"}, {"warn", "ok"}}
	if got := r.Lines(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines: got %v, want %v", got, want)
	}
	if got := r.Count(); got != 3 {
		t.Errorf("count: got %d, want 3", got)
	}
}

func TestLogRecorder_Defaults(t *testing.T) {
	r := NewLogRecorder(0, 0)
	for i := 0; i < DefaultMaxLogLines+5; i++ {
		r.Log("info", string(make([]byte, DefaultMaxLogLineBytes+1)))
	}
	if got := len(r.Lines()); got != DefaultMaxLogLines {
		t.Errorf("lines kept: got %d, want %d", got, DefaultMaxLogLines)
	}
	if got := len(r.Lines()[0].Message); got != DefaultMaxLogLineBytes {
		t.Errorf("line length: got %d, want %d", got, DefaultMaxLogLineBytes)
	}
	if got := NewLogRecorder(1, 1).Lines(); got != nil {
		t.Errorf("empty recorder: got %v, want nil", got)
	}
}

func TestLogRecorder_Hammer(t *testing.T) {
	r := NewLogRecorder(10, 100)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r.Log("info", "x")
				_ = r.Lines()
			}
		}()
	}
	wg.Wait()
	if got := r.Count(); got != 800 {
		t.Errorf("count: got %d, want 800", got)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is two bytes: not cut in half
		{"a\xffb", 10, "a\uFFFDb"},
		{"日本", 4, "日"},
		{"", 0, ""},
	}
	for _, tc := range tests {
		got := Truncate(tc.in, tc.max)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d): got %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestExtismEnv(t *testing.T) {
	names := ExtismEnvNames()
	if len(names) != len(extismEnv) {
		t.Fatalf("names: got %d, want %d", len(names), len(extismEnv))
	}
	s, ok := ExtismEnv("alloc")
	if !ok || len(s.Params) != 1 || len(s.Results) != 1 {
		t.Errorf("alloc: got %+v %v", s, ok)
	}
	s.Params[0] = 0 // a copy: the table stays intact
	if again, _ := ExtismEnv("alloc"); again.Params[0] == 0 {
		t.Error("ExtismEnv returned the table's own slice")
	}
	if _, ok := ExtismEnv("nope"); ok {
		t.Error("nope: got ok, want not provided")
	}
}
