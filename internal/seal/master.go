package seal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Where the master key comes from.
const (
	// EnvMasterKey names the environment variable that holds the master key (base64 of 32 bytes). When set, it
	// wins over the key file.
	EnvMasterKey = "TOOLGATE_MASTER_KEY"
	// KeyFile is the master key's file in the data directory, created at first start with mode 0600.
	KeyFile = "master.key"
	// NextKeyFile holds the new key during a rotation of the key file: written before any value is resealed,
	// renamed over KeyFile once every value is, so a crash in between is finished at the next start. Its format
	// is KeyFile's.
	NextKeyFile = "master.key.next"
)

// ErrKeyFromEnv: the master key comes from the environment, so the server cannot rotate it by itself.
var ErrKeyFromEnv = errors.New("the master key comes from " + EnvMasterKey +
	": put the new key there and the old one in TOOLGATE_PREVIOUS_MASTER_KEY, then restart")

// Master is a server's master key: a Keyring that a rotation can replace while the server runs. It is safe for
// concurrent use.
type Master struct {
	mu   sync.RWMutex
	ring *Keyring

	dir      string // the data directory when the key is in a file; "" when it comes from the environment
	pending  bool   // a rotation of the key file is under way: the new key is in NextKeyFile
	rotating sync.Mutex
}

// LoadMaster returns the master key: from envKey (the value of TOOLGATE_MASTER_KEY) when it is not empty, else
// from dataDir/master.key, which is created with a fresh random key (mode 0600) when it does not exist; created
// reports that. A key file readable by group or others is refused. previous, if not empty, is an earlier key
// (base64) that opens values sealed before a rotation of an environment key. A rotation of the key file that a
// crash interrupted is picked up (see Pending).
func LoadMaster(dataDir, envKey, previous string) (m *Master, created bool, err error) {
	var prev []*Key
	if previous != "" {
		k, err := ParseKey(previous)
		if err != nil {
			return nil, false, fmt.Errorf("previous master key: %w", err)
		}
		prev = append(prev, k)
	}
	if envKey != "" {
		k, err := ParseKey(envKey)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return &Master{ring: NewKeyring(k, prev...)}, false, nil
	}
	m = &Master{dir: dataDir}
	cur, err := readKeyFile(filepath.Join(dataDir, KeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		k, enc := GenerateKey()
		if err := writeKeyFile(dataDir, KeyFile, enc, true); err != nil {
			return nil, false, err
		}
		m.ring = NewKeyring(k, prev...)
		return m, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	next, err := readKeyFile(filepath.Join(dataDir, NextKeyFile))
	switch {
	case err == nil:
		m.ring = NewKeyring(next, append([]*Key{cur}, prev...)...)
		m.pending = true
	case errors.Is(err, fs.ErrNotExist):
		m.ring = NewKeyring(cur, prev...)
	default:
		return nil, false, err
	}
	return m, false, nil
}

// NewMaster returns a Master over fixed keys that live in memory only (tests, and a server configured without
// a master key). It cannot be rotated.
func NewMaster(current *Key, previous ...*Key) *Master {
	return &Master{ring: NewKeyring(current, previous...)}
}

func readKeyFile(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file[%s] has mode %v: it must not be readable by others (chmod 600)",
			path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file[%s]: %w", path, err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file[%s]: %w", path, err)
	}
	return k, nil
}

// writeKeyFile writes enc to dir/name with mode 0600 and syncs it; exclusive refuses to replace a file.
func writeKeyFile(dir, name, enc string, exclusive bool) error {
	path := filepath.Join(dir, name)
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if exclusive {
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return fmt.Errorf("master key file[%s]: %w", path, err)
	}
	_, err = f.WriteString(enc + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("master key file[%s]: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Keyring returns the keys in force now.
func (m *Master) Keyring() *Keyring {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.ring
}

// FromEnv reports whether the key comes from the environment (and so cannot be rotated by the server).
func (m *Master) FromEnv() bool { return m.dir == "" }

// Pending reports whether a rotation of the key file was interrupted: values may still be sealed under the old
// key. Reseal everything, then call Finish.
func (m *Master) Pending() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pending
}

// Finish completes an interrupted rotation once every value is resealed under the current key: the new key file
// replaces the old one, and the old key leaves the ring.
func (m *Master) Finish() error {
	m.rotating.Lock()
	defer m.rotating.Unlock()
	return m.finish()
}

func (m *Master) finish() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.pending {
		return nil
	}
	if err := os.Rename(filepath.Join(m.dir, NextKeyFile), filepath.Join(m.dir, KeyFile)); err != nil {
		return fmt.Errorf("master key rotation: %w", err)
	}
	if err := syncDir(m.dir); err != nil {
		return fmt.Errorf("master key rotation: %w", err)
	}
	m.ring = NewKeyring(m.ring.current)
	m.pending = false
	return nil
}

// Rotate replaces the key file's key with a fresh one. reseal must reseal every stored value under the keyring
// it is given (values sealed under the old key open through it) and return how many it changed; Rotate returns
// that count. The new key is on disk before the first value is resealed, and replaces the old key file only
// after the last, so a crash leaves a state LoadMaster finishes. During the rotation the Master seals under the
// new key and opens under both. A key from the environment is not rotated here: ErrKeyFromEnv.
func (m *Master) Rotate(ctx context.Context, reseal func(ctx context.Context, r *Keyring) (int, error)) (int, error) {
	if m.FromEnv() {
		return 0, ErrKeyFromEnv
	}
	m.rotating.Lock()
	defer m.rotating.Unlock()

	m.mu.Lock()
	if !m.pending {
		k, enc := GenerateKey()
		if err := writeKeyFile(m.dir, NextKeyFile, enc, false); err != nil {
			m.mu.Unlock()
			return 0, err
		}
		m.ring = NewKeyring(k, append([]*Key{m.ring.current}, m.ring.previous...)...)
		m.pending = true
	}
	ring := m.ring
	m.mu.Unlock()

	n, err := reseal(ctx, ring)
	if err != nil {
		return n, fmt.Errorf("master key rotation: %w", err)
	}
	return n, m.finish()
}
