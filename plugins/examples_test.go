package plugins_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/runtime"
)

// TestExamples runs the example tools a newcomer tries first through the runtime, with the config of their
// manifests, and checks that each manifest is a valid version document.
func TestExamples(t *testing.T) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	for _, tc := range []struct {
		tool, manifest string
		input          string
		config         map[string]string // on top of the manifest's
		wantStatus     string
		want           string // the output, or a part of the error
	}{
		{tool: "jsonpick", manifest: "go/jsonpick/manifest.json",
			input:      `{"doc":{"user":{"name":"Ada","id":12345678901234567890},"items":[{"id":7},{"id":8}]},"paths":["user.name","user.id","items.1.id","nope"]}`,
			wantStatus: receipts.StatusOK, want: `{"items.1.id":8,"nope":null,"user.id":12345678901234567890,"user.name":"Ada"}`},
		{tool: "jsonpick", manifest: "go/jsonpick/manifest.json", config: map[string]string{"strict": "true"},
			input: `{"doc":{"a":1},"paths":["a","b.c"]}`, wantStatus: receipts.StatusToolError, want: `no value at "b.c"`},
		{tool: "jsonpick", manifest: "go/jsonpick/manifest.json", input: `[1,2]`,
			wantStatus: receipts.StatusToolError, want: `want {"doc": …, "paths": ["a.b", …]}`},
		{tool: "slugify", manifest: "examples/rust/slugify.manifest.json", input: "Crème Brûlée — the 10-minute version!",
			wantStatus: receipts.StatusOK, want: `{"slug":"creme-brulee-the-10-minute-version","words":6}`},
		{tool: "slugify", manifest: "examples/rust/slugify.manifest.json", input: "Straße, Ærø & Þingvellir: Ελληνικά 2024",
			wantStatus: receipts.StatusOK, want: `{"slug":"strasse-aero-thingvellir-ελληνικά-2024","words":5}`},
		{tool: "slugify", manifest: "examples/rust/slugify.manifest.json", config: map[string]string{"max": "13"},
			input: "one two three four", wantStatus: receipts.StatusOK, want: `{"slug":"one-two-three","words":3}`},
		{tool: "slugify", manifest: "examples/rust/slugify.manifest.json", input: "bad \xff",
			wantStatus: receipts.StatusToolError, want: "input is not UTF-8 text"},
	} {
		t.Run(tc.tool+"/"+tc.input, func(t *testing.T) {
			wasm := pluginstest.Built(t, tc.tool)
			info, err := rt.Load(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			doc := readManifest(t, tc.manifest, info.Digest)
			config := map[string]string{}
			for k, v := range doc.Config {
				config[k] = v
			}
			for k, v := range tc.config {
				config[k] = v
			}
			res, err := rt.Invoke(ctx, runtime.Call{Module: info.Digest, Entry: doc.Entry, Input: []byte(tc.input),
				Config: config, Limits: runtime.Limits{Timeout: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.wantStatus {
				t.Fatalf("status: got %s (%q), want %s", res.Status, res.Error, tc.wantStatus)
			}
			if res.Status == receipts.StatusOK && string(res.Output) != tc.want {
				t.Errorf("output: got %s, want %s", res.Output, tc.want)
			}
			if res.Status != receipts.StatusOK && !strings.Contains(res.Error, tc.want) {
				t.Errorf("error: got %q, want it to contain %q", res.Error, tc.want)
			}
		})
	}
}

// readManifest parses an example's manifest as the server does, with the module filled in.
func readManifest(t *testing.T, path, digest string) *registry.Document {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["module"] = digest
	b, _ = json.Marshal(m)
	doc, err := registry.ParseDocument(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}
