package tlog

import (
	"errors"
	"fmt"
)

// Problem kinds in an audit Report.
const (
	// ProblemModified: the entry at this index is not the one the checkpoint signed, and that one is nowhere.
	ProblemModified = "modified"
	// ProblemDeleted: the entry the checkpoint signed at this index is gone from the store.
	ProblemDeleted = "deleted"
	// ProblemReordered: the entry signed at this index sits at another index.
	ProblemReordered = "reordered"
	// ProblemTreeModified: the entry is intact but the store's own leaf hash for it was changed, so the server
	// cannot prove it.
	ProblemTreeModified = "tree_modified"
	// ProblemUnverifiable: the store's tree does not match the checkpoint and no proofs were available to
	// locate what changed.
	ProblemUnverifiable = "unverifiable"
)

// Problem is one finding of an audit.
type Problem struct {
	Index  int64  // the leaf index; -1 for a finding about the whole log
	ID     string // the id the store has at this index, "" if none
	Kind   string // one of the Problem* kinds
	Detail string
}

func (p Problem) String() string {
	where := fmt.Sprintf("index %d", p.Index)
	if p.Index < 0 {
		where = "log"
	}
	if p.ID != "" {
		where += " (" + p.ID + ")"
	}
	return where + ": " + p.Kind + ": " + p.Detail
}

// Report is the outcome of an audit of every entry of a signed tree.
type Report struct {
	Tree     Tree
	Entries  int64 // entries checked (the tree size)
	Receipts int64 // of which receipts
	Events   int64 // and events
	// Method says how the entries were checked: "root" (their hashes rebuild the signed root: all intact),
	// "leaf-hashes" (the store's leaf hashes rebuild the signed root, and each entry was compared with its own),
	// or "proofs" (the store's tree is damaged too: an inclusion proof per entry).
	Method   string
	Problems []Problem
}

// OK reports whether the audit found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Auditor checks every entry of a log against a verified checkpoint and, when something does not match, says
// precisely which index was modified, deleted or reordered. Feed it the entries of indexes 0 to Tree.N-1 in
// order with Add (a page at a time: it keeps two hashes and an id per entry, not the entries), then call Finish.
type Auditor struct {
	tree       Tree
	next       int64
	ids        []string
	data       []Hash // RecordHash of each entry's bytes
	hasData    []bool
	stored     []Hash // the store's leaf hash of each entry
	hasStored  []bool
	dataRoot   rootBuilder
	storedRoot rootBuilder
	receipts   int64
	events     int64
}

// NewAuditor starts an audit of tree t, whose checkpoint the caller has verified (OpenCheckpoint).
func NewAuditor(t Tree) *Auditor { return &Auditor{tree: t} }

// Next returns the index of the entry Add expects next.
func (a *Auditor) Next() int64 { return a.next }

// Add takes the next entries, which must continue from Next in index order. Entries at or past the tree size
// are ignored (the log grew since the checkpoint). An entry out of order is an error: the source is broken.
func (a *Auditor) Add(entries ...Entry) error {
	for _, e := range entries {
		if e.Index >= a.tree.N {
			continue
		}
		if e.Index != a.next {
			return fmt.Errorf("entry index %d where %d was expected", e.Index, a.next)
		}
		a.next++
		a.ids = append(a.ids, e.ID)
		var d Hash
		has := e.Data != nil
		if has {
			d = RecordHash(e.Data)
			a.dataRoot.add(d)
			switch KindOf(e.ID) {
			case KindReceipt:
				a.receipts++
			case KindEvent:
				a.events++
			}
		}
		a.data, a.hasData = append(a.data, d), append(a.hasData, has)
		hasStored := e.Hash != Hash{}
		a.stored, a.hasStored = append(a.stored, e.Hash), append(a.hasStored, hasStored)
		if hasStored {
			a.storedRoot.add(e.Hash)
		}
	}
	return nil
}

// ProveFunc fetches an inclusion proof of one index against the audited tree.
type ProveFunc func(index int64) ([]Hash, error)

// Finish returns the report. prove is used only when the store's own leaf hashes do not rebuild the signed root
// (its tree was tampered with too); it may be nil, and then such an audit reports the log unverifiable instead
// of locating each change.
func (a *Auditor) Finish(prove ProveFunc) *Report {
	r := &Report{Tree: a.tree, Entries: a.tree.N, Receipts: a.receipts, Events: a.events}
	complete := a.next == a.tree.N
	allData, allStored := complete, complete
	for i := range a.next {
		allData = allData && a.hasData[i]
		allStored = allStored && a.hasStored[i]
	}
	if allData && a.dataRoot.root() == a.tree.Hash {
		r.Method = "root"
		for i := range a.next {
			if a.stored[i] != a.data[i] {
				r.Problems = append(r.Problems, Problem{Index: i, ID: a.ids[i], Kind: ProblemTreeModified,
					Detail: fmt.Sprintf("the entry is intact but the store's leaf hash is %s, not %s", a.stored[i], a.data[i])})
			}
		}
		return r
	}
	if allStored && a.storedRoot.root() == a.tree.Hash {
		r.Method = "leaf-hashes"
		a.classify(r)
		return r
	}
	r.Method = "proofs"
	a.prove(r, prove)
	return r
}

// classify compares each entry with the authentic leaf hash of its index (the store's leaf hashes rebuild the
// signed root, so they are the ones the checkpoint signed).
func (a *Auditor) classify(r *Report) {
	signedAt := make(map[Hash]int64, a.next) // leaf hash → the index the checkpoint signed it at
	foundAt := make(map[Hash]int64, a.next)  // entry hash → the index the store has it at
	for i := range a.next {
		if _, dup := signedAt[a.stored[i]]; !dup {
			signedAt[a.stored[i]] = i
		}
		if _, dup := foundAt[a.data[i]]; a.hasData[i] && !dup {
			foundAt[a.data[i]] = i
		}
	}
	for i := range a.next {
		want := a.stored[i]
		if a.hasData[i] && a.data[i] == want {
			continue
		}
		p := Problem{Index: i, ID: a.ids[i]}
		movedTo, moved := foundAt[want]
		if moved && movedTo == i {
			moved = false
		}
		switch {
		case !a.hasData[i] && moved:
			p.Kind, p.Detail = ProblemReordered, fmt.Sprintf("no entry here; the entry signed at this index is at index %d", movedTo)
		case !a.hasData[i]:
			p.Kind, p.Detail = ProblemDeleted, "the store has no entry here and the one signed at this index is nowhere"
		default:
			from, signed := signedAt[a.data[i]]
			switch {
			case moved && signed:
				p.Kind, p.Detail = ProblemReordered, fmt.Sprintf("holds the entry signed at index %d; the entry signed here is at index %d", from, movedTo)
			case moved:
				p.Kind, p.Detail = ProblemReordered, fmt.Sprintf("holds an entry the log never signed; the entry signed here is at index %d", movedTo)
			case signed:
				p.Kind, p.Detail = ProblemDeleted, fmt.Sprintf("the entry signed at this index is nowhere; this index holds the entry signed at index %d", from)
			default:
				p.Kind, p.Detail = ProblemModified, fmt.Sprintf("its bytes hash to %s but the checkpoint signed %s here", a.data[i], want)
			}
		}
		r.Problems = append(r.Problems, p)
	}
}

// prove checks each entry with its own inclusion proof: the store's tree is damaged, so its leaf hashes cannot be
// trusted, but a proof that verifies against the signed root can. Where a leaf hash was forged to match a forged
// entry, the original hash is gone from the store, so the proof of its sibling leaf fails too: the two cannot be
// told apart, and both are reported.
func (a *Auditor) prove(r *Report, prove ProveFunc) {
	if prove == nil {
		r.Problems = append(r.Problems, Problem{Index: -1, Kind: ProblemUnverifiable,
			Detail: fmt.Sprintf("the store's tree does not match the checkpoint of size %d", a.tree.N)})
		return
	}
	for i := range a.tree.N {
		if i >= a.next || !a.hasData[i] {
			id := ""
			if i < a.next {
				id = a.ids[i]
			}
			r.Problems = append(r.Problems, Problem{Index: i, ID: id, Kind: ProblemDeleted,
				Detail: "the store has no entry here"})
			continue
		}
		proof, err := prove(i)
		if err == nil {
			err = VerifyInclusionHash(a.tree, i, a.data[i], proof)
		}
		switch {
		case errors.Is(err, ErrNotIncluded):
			r.Problems = append(r.Problems, Problem{Index: i, ID: a.ids[i], Kind: ProblemModified,
				Detail: "not provable against the checkpoint: this entry, or a tree hash its proof runs through " +
					"(a neighbour's, when that was forged too), was changed"})
		case err != nil:
			r.Problems = append(r.Problems, Problem{Index: i, ID: a.ids[i], Kind: ProblemUnverifiable,
				Detail: "no inclusion proof: " + err.Error()})
		}
	}
}
