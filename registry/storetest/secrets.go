package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/toolgate/toolgate/registry"
)

// RunSecrets runs the registry.SecretStore suite. open must return a new, empty store each time it is called.
func RunSecrets(t *testing.T, open func(t *testing.T) registry.SecretStore) {
	t.Run("PutGetList", func(t *testing.T) { testSecretPutGetList(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testSecretInvalid(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testSecretDelete(t, open(t)) })
	t.Run("Reseal", func(t *testing.T) { testSecretReseal(t, open(t)) })
	t.Run("Hammer", func(t *testing.T) { testSecretHammer(t, open(t)) })
}

func sealed(s string) []byte { return []byte("sealed:" + s) }

func testSecretPutGetList(t *testing.T, s registry.SecretStore) {
	ctx := context.Background()
	info, created, err := s.PutSecret(ctx, registry.SealedSecret{Name: "B_KEY", Sealed: sealed("1"), CreatedAt: at(1), UpdatedAt: at(1)})
	if err != nil || !created {
		t.Fatalf("PutSecret: got created %v, %v; want true, nil", created, err)
	}
	if !info.CreatedAt.Equal(at(1)) || info.Name != "B_KEY" {
		t.Errorf("PutSecret info: got %+v", info)
	}
	if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: "A_KEY", Sealed: sealed("a"), CreatedAt: at(2), UpdatedAt: at(2)}); err != nil {
		t.Fatal(err)
	}
	info, created, err = s.PutSecret(ctx, registry.SealedSecret{Name: "B_KEY", Sealed: sealed("2"), CreatedAt: at(3), UpdatedAt: at(3)})
	if err != nil || created {
		t.Fatalf("replace: got created %v, %v; want false, nil", created, err)
	}
	if !info.CreatedAt.Equal(at(1)) || !info.UpdatedAt.Equal(at(3)) {
		t.Errorf("replace keeps created_at: got %+v, want created %v updated %v", info, at(1), at(3))
	}
	got, err := s.SealedSecret(ctx, "B_KEY")
	if err != nil || !bytes.Equal(got.Sealed, sealed("2")) {
		t.Errorf("SealedSecret: got %q, %v; want %q", got.Sealed, err, sealed("2"))
	}
	list, err := s.Secrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "A_KEY" || list[1].Name != "B_KEY" {
		t.Errorf("Secrets: got %+v, want A_KEY, B_KEY", list)
	}
	if _, err := s.SealedSecret(ctx, "NOPE"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("absent: got %v, want ErrNotFound", err)
	}
}

func testSecretInvalid(t *testing.T, s registry.SecretStore) {
	ctx := context.Background()
	for _, name := range []string{"", "a/b", "1ABC", "has space", "s/x", string(make([]byte, 200))} {
		if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: name, Sealed: sealed("x")}); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("PutSecret(%q): got %v, want ErrInvalid", name, err)
		}
		if _, err := s.SealedSecret(ctx, name); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("SealedSecret(%q): got %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: "EMPTY"}); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("empty sealed value: got %v, want ErrInvalid", err)
	}
}

func testSecretDelete(t *testing.T, s registry.SecretStore) {
	ctx := context.Background()
	if err := s.DeleteSecret(ctx, "GONE"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("delete absent: got %v, want ErrNotFound", err)
	}
	if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: "GONE", Sealed: sealed("x"), CreatedAt: at(1), UpdatedAt: at(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(ctx, "GONE"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.SealedSecret(ctx, "GONE"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("after delete: got %v, want ErrNotFound", err)
	}
	if list, _ := s.Secrets(ctx); len(list) != 0 {
		t.Errorf("list after delete: got %+v, want none", list)
	}
}

func testSecretReseal(t *testing.T, s registry.SecretStore) {
	ctx := context.Background()
	for i := range 20 {
		name := fmt.Sprintf("K%02d", i)
		if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: name, Sealed: sealed(name), CreatedAt: at(i), UpdatedAt: at(i)}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.ResealSecrets(ctx, func(name string, b []byte) ([]byte, bool, error) {
		if name == "K03" {
			return nil, false, nil // already current
		}
		return append([]byte("new:"), b...), true, nil
	})
	if err != nil || n != 19 {
		t.Fatalf("ResealSecrets: got %d, %v; want 19, nil", n, err)
	}
	for i := range 20 {
		name := fmt.Sprintf("K%02d", i)
		want := "new:sealed:" + name
		if name == "K03" {
			want = "sealed:" + name
		}
		got, err := s.SealedSecret(ctx, name)
		if err != nil || string(got.Sealed) != want {
			t.Errorf("%s: got %q, %v; want %q", name, got.Sealed, err, want)
		}
	}
	boom := errors.New("boom")
	if _, err := s.ResealSecrets(ctx, func(string, []byte) ([]byte, bool, error) { return nil, false, boom }); !errors.Is(err, boom) {
		t.Errorf("fn error: got %v, want it passed on", err)
	}
}

func testSecretHammer(t *testing.T, s registry.SecretStore) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				name := fmt.Sprintf("H%d", i%5)
				if _, _, err := s.PutSecret(ctx, registry.SealedSecret{Name: name, Sealed: sealed(fmt.Sprint(g, i)), CreatedAt: at(i), UpdatedAt: at(i)}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.SealedSecret(ctx, name); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if _, err := s.ResealSecrets(ctx, func(_ string, b []byte) ([]byte, bool, error) { return b, true, nil }); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	if list, err := s.Secrets(ctx); err != nil || len(list) != 5 {
		t.Errorf("Secrets: got %d, %v; want 5", len(list), err)
	}
}
