package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// The receipt log. These calls return what the server says, unverified: an auditor checks it with the server's
// public key, e.g. with package github.com/toolgate/toolgate/receipts/tlog (as `toolgate receipts verify` does).
// Hashes are the 32 raw bytes of SHA-256 node hashes.

// LogKey returns the verifier key of the log's checkpoints, "<name>+<hash>+<base64>". Fetch it once and keep it:
// a key fetched together with what it verifies proves nothing.
func (c *Client) LogKey(ctx context.Context) (string, error) {
	b, _, _, err := c.do(ctx, http.MethodGet, "/v1/log/key", nil, nil)
	if err != nil {
		return "", err
	}
	return string(trimNewline(b)), nil
}

// Checkpoint returns the signed checkpoint of the current tree: a signed note.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	b, _, _, err := c.do(ctx, http.MethodGet, "/v1/log/checkpoint", nil, nil)
	return b, err
}

// LogProof is an inclusion proof of one entry in the tree of size TreeSize, with that tree's signed checkpoint.
type LogProof struct {
	ID         string   `json:"id,omitempty"`
	Index      int64    `json:"index"`
	TreeSize   int64    `json:"tree_size"`
	LeafHash   []byte   `json:"leaf_hash"` // the server's leaf hash: informational, the auditor hashes the entry itself
	Proof      [][]byte `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

// ReceiptProof returns the inclusion proof of a receipt in the tree of size treeSize, or in the current tree when
// treeSize is 0.
func (c *Client) ReceiptProof(ctx context.Context, id string, treeSize int64) (LogProof, error) {
	var p LogProof
	err := c.getJSON(ctx, "/v1/receipts/"+url.PathEscape(id)+"/proof"+sizeQuery("?", treeSize), &p)
	return p, err
}

// LogProof returns the inclusion proof of the entry at index in the tree of size treeSize, or in the current
// tree when treeSize is 0.
func (c *Client) LogProof(ctx context.Context, index, treeSize int64) (LogProof, error) {
	var p LogProof
	err := c.getJSON(ctx, "/v1/log/proof?index="+strconv.FormatInt(index, 10)+sizeQuery("&", treeSize), &p)
	return p, err
}

func sizeQuery(sep string, treeSize int64) string {
	if treeSize <= 0 {
		return ""
	}
	return sep + "tree_size=" + strconv.FormatInt(treeSize, 10)
}

// LogConsistency proves that the tree of size From is a prefix of the tree of size To.
type LogConsistency struct {
	From       int64    `json:"from"`
	To         int64    `json:"to"`
	Proof      [][]byte `json:"proof"`
	Checkpoint string   `json:"checkpoint"` // of the tree of size To
}

// LogConsistency returns the consistency proof from the tree of size from to the tree of size to, or to the
// current tree when to is 0.
func (c *Client) LogConsistency(ctx context.Context, from, to int64) (LogConsistency, error) {
	path := "/v1/log/consistency?from=" + strconv.FormatInt(from, 10)
	if to > 0 {
		path += "&to=" + strconv.FormatInt(to, 10)
	}
	var p LogConsistency
	err := c.getJSON(ctx, path, &p)
	return p, err
}

// LogEntry is one leaf of the log as the server stores it. Data is the leaf's exact bytes (the receipt's or
// event's canonical JSON); ID, Hash or Data is empty where the server has lost it.
type LogEntry struct {
	Index int64  `json:"index"`
	ID    string `json:"id"`
	Kind  string `json:"kind"` // "receipt" or "event"
	Hash  []byte `json:"hash"`
	Data  []byte `json:"data"`
}

// LogEntries returns up to limit (1 to 1000) entries from start, and the log's size when they were read.
func (c *Client) LogEntries(ctx context.Context, start int64, limit int) (entries []LogEntry, treeSize int64, err error) {
	var out struct {
		TreeSize int64      `json:"tree_size"`
		Entries  []LogEntry `json:"entries"`
	}
	err = c.getJSON(ctx, "/v1/log/entries?start="+strconv.FormatInt(start, 10)+"&limit="+strconv.Itoa(limit), &out)
	return out.Entries, out.TreeSize, err
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
