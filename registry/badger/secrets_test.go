package badger

import (
	"context"
	"testing"
	"time"

	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/registry/storetest"
)

func TestStore_Secrets(t *testing.T) {
	t.Parallel()
	storetest.RunSecrets(t, func(t *testing.T) registry.SecretStore { return open(t) })
}

func TestStore_SecretsReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: "PAYKEY", Sealed: []byte("opaque"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.SealedSecret(ctx, "PAYKEY")
	if err != nil || string(got.Sealed) != "opaque" || !got.CreatedAt.Equal(now) {
		t.Errorf("after reopen: got %+v, %v", got, err)
	}
}
