package runtime

import (
	"context"
	"testing"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/receipts"
)

func benchInvoke(b *testing.B, wasm []byte, entry string) {
	digest := load(b, wasm)
	ctx := context.Background()
	c := Call{Module: digest, Entry: entry, Input: []byte(`{"name":"bench"}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := testRT.Invoke(ctx, c)
		if err != nil || res.Status != receipts.StatusOK {
			b.Fatalf("%s %q %v", res.Status, res.Error, err)
		}
	}
}

// BenchmarkInvoke measures one fresh sandbox per call, end to end.
func BenchmarkInvoke(b *testing.B) {
	b.Run("wat-extism-echo", func(b *testing.B) { benchInvoke(b, plugins.WAT("echo"), "") })
	b.Run("wat-wasi-command-echo", func(b *testing.B) { benchInvoke(b, plugins.WAT("cmd_echo"), "") })
	b.Run("go-extism-echo", func(b *testing.B) { benchInvoke(b, built(b, "hello"), "echo") })
	b.Run("go-wasi-command-wc", func(b *testing.B) { benchInvoke(b, built(b, "wc"), "") })
}
