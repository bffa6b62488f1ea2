// Command goguest is a standard Go program built for GOOS=wasip1 by the fuel tests: it exercises what Go's
// compiler emits (memory.copy/fill, br_table dispatch, call_indirect, sign extension, saturating truncation) on
// sha256, sort, JSON and maps, and prints a digest of its work. With the argument "spin" it never ends.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

type record struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Score float64           `json:"score"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "spin" {
		for {
		}
	}
	n := 200
	var x uint32 = 2463534242
	next := func() uint32 { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x }

	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{
			ID:    int(next() % 100000),
			Name:  strings.Repeat(string(rune('a'+i%26)), 1+i%7),
			Score: float64(int32(next())) / 1000,
			Tags:  []string{fmt.Sprint(i % 3), fmt.Sprint(i % 5)},
			Attrs: map[string]string{"k": fmt.Sprint(next() % 10)},
		}
	}
	sort.Slice(recs, func(a, b int) bool { return recs[a].ID < recs[b].ID })
	blob, err := json.Marshal(recs)
	if err != nil {
		panic(err)
	}
	var back []record
	if err := json.Unmarshal(blob, &back); err != nil {
		panic(err)
	}
	counts := map[string]int{}
	for _, r := range back {
		counts[r.Tags[0]+r.Tags[1]]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(next())
	}
	h := sha256.New()
	for i := 0; i < 4; i++ {
		h.Write(buf)
		copy(buf[1:], buf) // memmove
		clear(buf[:i*1000])
	}
	var trunc int64
	for i := 0; i < 1000; i++ {
		f := float64(int32(next())) * 1e9
		trunc += int64(f) + int64(int8(next())) + int64(math.Round(f/7))
	}
	fmt.Printf("records %d json %d bytes keys %v\n", len(back), len(blob), keys)
	fmt.Printf("sha256 %x\n", h.Sum(nil))
	fmt.Printf("trunc %d\n", trunc)
}
