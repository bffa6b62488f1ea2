package seal

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKey_SealOpen(t *testing.T) {
	k, _ := GenerateKey()
	r := NewKeyring(k)
	value := []byte("sk_live_0123456789")
	s1, s2 := r.Seal("PAYKEY", value), r.Seal("PAYKEY", value)
	if bytes.Equal(s1, s2) {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
	if bytes.Contains(s1, value) {
		t.Error("sealed bytes contain the value")
	}
	if got, err := r.Open("PAYKEY", s1); err != nil || !bytes.Equal(got, value) {
		t.Errorf("Open: got %q, %v; want %q", got, err, value)
	}
	if _, err := r.Open("OTHER", s1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open under another name: got %v, want ErrCorrupt", err)
	}
	flipped := bytes.Clone(s1)
	flipped[len(flipped)-1] ^= 1
	if _, err := r.Open("PAYKEY", flipped); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open modified: got %v, want ErrCorrupt", err)
	}
	if _, err := r.Open("PAYKEY", s1[:Overhead-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open short: got %v, want ErrCorrupt", err)
	}
	other, _ := GenerateKey()
	if _, err := NewKeyring(other).Open("PAYKEY", s1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open under another key: got %v, want ErrUnknownKey", err)
	}
	if id, ok := KeyID(s1); !ok || id != k.ID() {
		t.Errorf("KeyID: got %s %v, want %s", id, ok, k.ID())
	}
}

func TestKeyring_Reseal(t *testing.T) {
	old, _ := GenerateKey()
	cur, _ := GenerateKey()
	s := NewKeyring(old).Seal("N", []byte("v"))
	r := NewKeyring(cur, old)
	if !r.Stale(s) {
		t.Fatal("a value under the previous key is not stale")
	}
	out, changed, err := r.Reseal("N", s)
	if err != nil || !changed || r.Stale(out) {
		t.Fatalf("Reseal: changed %v err %v stale %v", changed, err, r.Stale(out))
	}
	if _, err := NewKeyring(cur).Open("N", out); err != nil {
		t.Errorf("resealed value does not open under the new key alone: %v", err)
	}
	if again, changed, _ := r.Reseal("N", out); changed || !bytes.Equal(again, out) {
		t.Error("resealing a current value changed it")
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, KeySize)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := ParseKey(" " + enc.EncodeToString(raw) + "\n"); err != nil {
			t.Errorf("ParseKey(%v): %v", enc, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:31]), strings.Repeat("A", 100)} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q): got %v, want ErrBadKey", bad, err)
		}
	}
}

func TestLoadMaster_File(t *testing.T) {
	dir := t.TempDir()
	m, created, err := LoadMaster(dir, "", "")
	if err != nil || !created || m.FromEnv() {
		t.Fatalf("first load: created %v err %v", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v, want 0600", err, fi.Mode().Perm())
	}
	s := m.Keyring().Seal("N", []byte("v"))
	m2, created, err := LoadMaster(dir, "", "")
	if err != nil || created {
		t.Fatalf("second load: created %v err %v", created, err)
	}
	if _, err := m2.Keyring().Open("N", s); err != nil {
		t.Errorf("reloaded key does not open: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMaster(dir, "", ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: got %v, want refused", err)
	}
}

func TestLoadMaster_Env(t *testing.T) {
	dir := t.TempDir()
	old, oldEnc := GenerateKey()
	_, curEnc := GenerateKey()
	s := NewKeyring(old).Seal("N", []byte("v"))
	m, created, err := LoadMaster(dir, curEnc, oldEnc)
	if err != nil || created || !m.FromEnv() {
		t.Fatalf("env load: created %v err %v", created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
		t.Errorf("env key wrote a key file: %v", err)
	}
	if _, err := m.Keyring().Open("N", s); err != nil {
		t.Errorf("previous key does not open: %v", err)
	}
	if _, err := m.Rotate(context.Background(), nil); !errors.Is(err, ErrKeyFromEnv) {
		t.Errorf("Rotate env key: got %v, want ErrKeyFromEnv", err)
	}
	if _, _, err := LoadMaster(dir, "nope", ""); !errors.Is(err, ErrBadKey) {
		t.Errorf("bad env key: got %v, want ErrBadKey", err)
	}
}

// memStore is a map of sealed values, resealed the way a SecretStore does it.
type memStore map[string][]byte

func (s memStore) reseal(fail string) func(context.Context, *Keyring) (int, error) {
	return func(_ context.Context, r *Keyring) (int, error) {
		n := 0
		for name, b := range s {
			if name == fail {
				return n, errors.New("crash")
			}
			out, changed, err := r.Reseal(name, b)
			if err != nil {
				return n, err
			}
			if changed {
				s[name], n = out, n+1
			}
		}
		return n, nil
	}
}

func TestMaster_Rotate(t *testing.T) {
	dir := t.TempDir()
	m, _, err := LoadMaster(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	store := memStore{"A": m.Keyring().Seal("A", []byte("a")), "B": m.Keyring().Seal("B", []byte("b"))}

	// A crash in the middle: the new key is on disk beside the old one, and the next start finishes.
	if _, err := m.Rotate(context.Background(), store.reseal("B")); err == nil {
		t.Fatal("Rotate with a failing reseal: got nil error")
	}
	m2, _, err := LoadMaster(dir, "", "")
	if err != nil || !m2.Pending() {
		t.Fatalf("restart after a crash: pending %v err %v", m2.Pending(), err)
	}
	if _, err := store.reseal("")(context.Background(), m2.Keyring()); err != nil {
		t.Fatal(err)
	}
	if err := m2.Finish(); err != nil {
		t.Fatal(err)
	}
	newKey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("key file unchanged after rotation")
	}
	if _, err := os.Stat(filepath.Join(dir, NextKeyFile)); !os.IsNotExist(err) {
		t.Errorf("next key file left behind: %v", err)
	}
	m3, _, err := LoadMaster(dir, "", "")
	if err != nil || m3.Pending() {
		t.Fatalf("after finish: pending %v err %v", m3.Pending(), err)
	}
	for name, want := range map[string]string{"A": "a", "B": "b"} {
		if got, err := m3.Keyring().Open(name, store[name]); err != nil || string(got) != want {
			t.Errorf("%s after rotation: got %q, %v", name, got, err)
		}
	}

	// A clean rotation.
	n, err := m3.Rotate(context.Background(), store.reseal(""))
	if err != nil || n != 2 {
		t.Fatalf("Rotate: got %d, %v; want 2, nil", n, err)
	}
	m4, _, _ := LoadMaster(dir, "", "")
	if _, err := m4.Keyring().Open("A", store["A"]); err != nil {
		t.Errorf("after a clean rotation: %v", err)
	}
}

func FuzzKeyring_Open(f *testing.F) {
	k, _ := NewKey(bytes.Repeat([]byte{7}, KeySize))
	r := NewKeyring(k)
	f.Add("N", r.Seal("N", []byte("v")))
	f.Add("", []byte{1})
	f.Fuzz(func(t *testing.T, name string, sealed []byte) {
		v, err := r.Open(name, sealed)
		if err == nil {
			// Only a value this key sealed opens; resealing it round-trips.
			if got, err := r.Open(name, r.Seal(name, v)); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
