package badger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/zstd"

	"github.com/toolgate/toolgate/registry"
)

// blobZstd is the format byte of a module blob: one zstd frame follows.
const blobZstd = 1

// codecs are shared by every Store: EncodeAll and DecodeAll are safe for concurrent use, and one pair keeps the
// memory of tests that open many stores flat.
var codecs = sync.OnceValues(func() (*codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return nil, err
	}
	// The cap limit makes DecodeAll stop at cap(dst): reads pass a buffer whose capacity is the module's
	// recorded size, so corrupt or hostile bytes cannot make the decoder allocate more than that.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		return nil, err
	}
	return &codec{enc: enc, dec: dec}, nil
})

type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func moduleInfoKey(digest string) []byte { return []byte("mi/" + digest) }
func moduleBlobKey(digest string) []byte { return []byte("m/" + digest) }

// PutModule stores wasm under info.Digest, which must equal registry.DigestOf(wasm) (else ErrInvalid). A zero
// info.Size is filled in, a wrong one is ErrInvalid; a zero CreatedAt is set to now. When the digest is already
// stored the stored info is returned unchanged with created false.
func (s *Store) PutModule(ctx context.Context, info registry.ModuleInfo, wasm []byte) (registry.ModuleInfo, bool, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.ModuleInfo{}, false, err
	}
	defer end()
	if !registry.ValidDigest(info.Digest) {
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: malformed digest: %w", info.Digest, registry.ErrInvalid)
	}
	if got := registry.DigestOf(wasm); got != info.Digest {
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: bytes have digest %s: %w", info.Digest, got, registry.ErrInvalid)
	}
	switch {
	case len(wasm) > maxModuleSize:
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: %d bytes, over %d: %w", info.Digest, len(wasm), maxModuleSize, registry.ErrInvalid)
	case info.Size == 0:
		info.Size = int64(len(wasm))
	case info.Size != int64(len(wasm)):
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: size %d, bytes are %d: %w", info.Digest, info.Size, len(wasm), registry.ErrInvalid)
	}
	if info.CreatedAt.IsZero() {
		info.CreatedAt = time.Now()
	}
	info.CreatedAt = info.CreatedAt.UTC()

	// Most puts of a known module are answered without compressing anything.
	if stored, err := s.module(info.Digest); err == nil {
		return stored, false, nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return registry.ModuleInfo{}, false, err
	}

	c, err := codecs()
	if err != nil {
		return registry.ModuleInfo{}, false, fmt.Errorf("zstd: %w", err)
	}
	blob := make([]byte, 1, 1+len(wasm)/2)
	blob[0] = blobZstd
	blob = c.enc.EncodeAll(wasm, blob)
	meta, err := json.Marshal(info)
	if err != nil {
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: %w", info.Digest, err)
	}

	var stored registry.ModuleInfo
	var created bool
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, moduleInfoKey(info.Digest))
		if err != nil {
			return err
		}
		if found { // put concurrently by someone else
			created = false
			return decodeJSON(val, &stored)
		}
		if err := txn.Set(moduleBlobKey(info.Digest), blob); err != nil {
			return err
		}
		created, stored = true, info
		if err := writeOutbox(ctx, txn, registry.Change{Created: true}); err != nil {
			return err
		}
		return txn.Set(moduleInfoKey(info.Digest), meta)
	})
	if err != nil {
		return registry.ModuleInfo{}, false, fmt.Errorf("module[%s]: %w", info.Digest, err)
	}
	return stored, created, nil
}

// Module returns a module's metadata.
func (s *Store) Module(ctx context.Context, digest string) (registry.ModuleInfo, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return registry.ModuleInfo{}, err
	}
	defer end()
	return s.module(digest)
}

func (s *Store) module(digest string) (registry.ModuleInfo, error) {
	var info registry.ModuleInfo
	err := s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, moduleInfoKey(digest))
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		return decodeJSON(val, &info)
	})
	if err != nil {
		return registry.ModuleInfo{}, fmt.Errorf("module[%s]: %w", digest, err)
	}
	return info, nil
}

// ModuleBytes returns a module's bytes. Decompression is capped at the module's recorded size, and the result
// is checked against the digest: a stored value that fails either check is ErrCorrupt.
func (s *Store) ModuleBytes(ctx context.Context, digest string) ([]byte, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	var info registry.ModuleInfo
	var blob []byte
	err = s.db.View(func(txn *badgerdb.Txn) error {
		val, found, err := get(txn, moduleInfoKey(digest))
		if err != nil {
			return err
		}
		if !found {
			return registry.ErrNotFound
		}
		if err := decodeJSON(val, &info); err != nil {
			return err
		}
		blob, found, err = get(txn, moduleBlobKey(digest))
		if err == nil && !found {
			return fmt.Errorf("blob missing: %w", ErrCorrupt)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("module[%s]: %w", digest, err)
	}
	wasm, err := decodeBlob(blob, info.Size)
	if err != nil {
		return nil, fmt.Errorf("module[%s]: %w", digest, err)
	}
	if registry.DigestOf(wasm) != digest {
		return nil, fmt.Errorf("module[%s]: bytes do not match the digest: %w", digest, ErrCorrupt)
	}
	return wasm, nil
}

// decodeBlob decompresses a module blob of exactly size bytes, never allocating more than size.
func decodeBlob(blob []byte, size int64) ([]byte, error) {
	if len(blob) == 0 || blob[0] != blobZstd {
		return nil, fmt.Errorf("unknown blob format: %w", ErrCorrupt)
	}
	if size < 0 || size > maxModuleSize {
		return nil, fmt.Errorf("recorded size %d: %w", size, ErrCorrupt)
	}
	c, err := codecs()
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	// One byte more than size lets an overlong value be told apart from an exact one.
	out, err := c.dec.DecodeAll(blob[1:], make([]byte, 0, size+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %v: %w", err, ErrCorrupt)
	}
	if int64(len(out)) != size {
		return nil, fmt.Errorf("decompressed %d bytes, recorded size %d: %w", len(out), size, ErrCorrupt)
	}
	return out, nil
}

// maxModuleSize is a sanity bound on a recorded module size, far above any server's upload limit.
const maxModuleSize = 1 << 30

// decodeJSON decodes a stored record; a record that does not parse is ErrCorrupt.
func decodeJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return nil
}
