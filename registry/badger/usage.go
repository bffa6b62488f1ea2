package badger

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"

	"github.com/toolgate/toolgate/registry"
)

var _ registry.UsageStore = (*Store)(nil)

// usageCounters is the value of a usage bucket.
type usageCounters struct {
	Calls uint64  `json:"calls"`
	Fuel  uint64  `json:"fuel"`
	Cost  float64 `json:"cost"`
}

// usageGroup is the prefix of one key's buckets on one tool: "u/<key id>/<tool>/".
func usageGroup(key, tool string) []byte { return []byte("u/" + key + "/" + tool + "/") }

// afterGroup is the first Badger key after every bucket of a group: the group's final '/' bumped to '0'.
func afterGroup(group []byte) []byte {
	b := bytes.Clone(group)
	b[len(b)-1] = '/' + 1
	return b
}

// bucketOf rounds t down to the start of its usage bucket, in Unix seconds.
func bucketOf(t time.Time) int64 {
	const w = int64(registry.UsageBucket / time.Second)
	s := t.Unix()
	return s - ((s%w)+w)%w
}

func usageKey(key, tool string, start int64) []byte {
	return binary.BigEndian.AppendUint64(usageGroup(key, tool), uint64(start))
}

// parseUsageKey splits "u/<key>/<tool>/<start u64 BE>".
func parseUsageKey(k []byte) (key, tool string, start int64, ok bool) {
	rest, ok := bytes.CutPrefix(k, []byte("u/"))
	if !ok || len(rest) < 8+4 {
		return "", "", 0, false
	}
	start = int64(binary.BigEndian.Uint64(rest[len(rest)-8:]))
	rest = rest[:len(rest)-8]
	k, tl, ok := bytes.Cut(bytes.TrimSuffix(rest, []byte("/")), []byte("/"))
	return string(k), string(tl), start, ok && len(k) > 0 && len(tl) > 0
}

// AddUsage adds the deltas to their buckets in one synced transaction.
func (s *Store) AddUsage(ctx context.Context, deltas []registry.Usage) error {
	end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	type bucket struct {
		key, tool string
		start     int64
	}
	sum := map[bucket]usageCounters{}
	var order []bucket
	for _, d := range deltas {
		if err := checkKeyID(d.Key); err != nil {
			return err
		}
		if !registry.ValidToolName(d.Tool) {
			return fmt.Errorf("usage tool[%q]: %w", d.Tool, registry.ErrInvalid)
		}
		if math.IsNaN(d.Cost) || math.IsInf(d.Cost, 0) || d.Cost < 0 {
			return fmt.Errorf("usage cost[%v]: must be finite and not negative: %w", d.Cost, registry.ErrInvalid)
		}
		b := bucket{d.Key, d.Tool, bucketOf(d.Start)}
		if b.start < 0 {
			return fmt.Errorf("usage start[%s]: before 1970: %w", d.Start, registry.ErrInvalid)
		}
		c, seen := sum[b]
		if !seen {
			order = append(order, b)
		}
		c.Calls += d.Calls
		c.Fuel += d.Fuel
		c.Cost += d.Cost
		sum[b] = c
	}
	if len(order) == 0 {
		return nil
	}
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	err = s.update(ctx, func(txn *badgerdb.Txn) error {
		for _, b := range order {
			k := usageKey(b.key, b.tool, b.start)
			var c usageCounters
			val, found, err := get(txn, k)
			if err != nil {
				return err
			}
			if found {
				if err := decodeJSON(val, &c); err != nil {
					return fmt.Errorf("usage key[%s] tool[%s]: %w", b.key, b.tool, err)
				}
			}
			d := sum[b]
			c.Calls += d.Calls
			c.Fuel = satAdd(c.Fuel, d.Fuel)
			c.Cost += d.Cost
			nv, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := txn.Set(k, nv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	return nil
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return math.MaxUint64
	}
	return a + b
}

// Usage returns the selected buckets by key, tool and start. A scan seeks past the buckets of a group that fall
// outside [Since, Until), so a narrow time range does not read a key's whole history.
func (s *Store) Usage(ctx context.Context, f registry.UsageFilter) ([]registry.Usage, error) {
	end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	prefix := []byte("u/")
	if f.Key != "" {
		if err := checkKeyID(f.Key); err != nil {
			return nil, err
		}
		prefix = []byte("u/" + f.Key + "/")
		if f.Tool != "" {
			prefix = usageGroup(f.Key, f.Tool)
		}
	}
	since, until := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Since.IsZero() {
		since = bucketOf(f.Since)
	}
	if !f.Until.IsZero() {
		until = bucketOf(f.Until)
	}
	out := []registry.Usage{}
	err = s.db.View(func(txn *badgerdb.Txn) error {
		it := txn.NewIterator(badgerdb.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.Valid(); {
			item := it.Item()
			key, tool, start, ok := parseUsageKey(item.Key())
			if !ok {
				return fmt.Errorf("usage key %q: %w", item.Key(), ErrCorrupt)
			}
			group := usageGroup(key, tool)
			switch {
			case f.Tool != "" && tool != f.Tool:
				it.Seek(afterGroup(group))
				continue
			case start < since:
				it.Seek(usageKey(key, tool, since))
				continue
			case start >= until:
				it.Seek(afterGroup(group))
				continue
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			var c usageCounters
			if err := decodeJSON(val, &c); err != nil {
				return fmt.Errorf("usage key[%s] tool[%s]: %w", key, tool, err)
			}
			out = append(out, registry.Usage{Key: key, Tool: tool, Start: time.Unix(start, 0).UTC(),
				Calls: c.Calls, Fuel: c.Fuel, Cost: c.Cost})
			it.Next()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}
