package tlog_test

import (
	"fmt"

	"github.com/toolgate/toolgate/receipts/tlog"
)

// An auditor holds the server's public key (GET /v1/log/key, or log.pub in its data directory) and checks that
// a receipt is in the signed log: the checkpoint's signature first, then the inclusion proof of the receipt's
// bytes (GET /v1/receipts/{id}) at the index the proof names (GET /v1/receipts/{id}/proof).
func Example() {
	// What the server has: a signer, and a log of two receipts.
	signer, _, _ := tlog.GenerateSigner("toolgate-log")
	leaves := [][]byte{[]byte(`{"id":"rcpt_1"}`), []byte(`{"id":"rcpt_2"}`)}
	var stored []tlog.Hash
	read := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		hs, _ := tlog.StoredHashesForRecordHash(int64(i), tlog.RecordHash(leaf), read)
		stored = append(stored, hs...)
	}
	root, _ := tlog.TreeHash(2, read)
	checkpoint, _ := signer.Sign(tlog.Tree{N: 2, Hash: root})
	proof, _ := tlog.ProveInclusion(2, 1, read)

	// What the auditor does, with only the public key and what the API returned.
	cp, err := tlog.OpenCheckpoint(checkpoint, signer.VerifierKey())
	if err != nil {
		fmt.Println("bad checkpoint:", err)
		return
	}
	fmt.Println("tree size:", cp.N)
	fmt.Println("receipt 2:", tlog.VerifyInclusion(cp.Tree, 1, leaves[1], proof))
	fmt.Println("forged:", tlog.VerifyInclusion(cp.Tree, 1, []byte(`{"id":"rcpt_3"}`), proof) != nil)
	// Output:
	// tree size: 2
	// receipt 2: <nil>
	// forged: true
}
