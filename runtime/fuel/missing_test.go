package fuel

import (
	"fmt"
	"os"
	"testing"
)

// missing skips a test whose toolchain or fixture is absent, except in CI (CI=true), where that is a failure.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
