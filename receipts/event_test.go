package receipts

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestEvent_Canonical(t *testing.T) {
	at := time.Unix(1700000000, 7).In(time.FixedZone("X", 3600))
	e := &Event{ID: NewEventID(at), Kind: EventPin, Subject: "tool:refund", Actor: "key:01", At: at,
		Reason: "<roll forward> & go", Attrs: map[string]string{"version": "1.2.0", "from": "1.1.0"}}
	b, err := e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actor":"key:01","at":"2023-11-14T22:13:20.000000007Z","attrs":{"from":"1.1.0","version":"1.2.0"},"id":"` +
		e.ID + `","kind":"pin","reason":"<roll forward> & go","subject":"tool:refund"}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	e2, err := DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := e2.Canonical(); !bytes.Equal(b, b2) {
		t.Errorf("round trip: got %s", b2)
	}
	if empty, _ := (&Event{ID: e.ID}).Canonical(); !strings.Contains(string(empty), `"attrs":{}`) {
		t.Errorf("nil attrs: got %s, want {}", empty)
	}
	for _, in := range []string{`{"id":"x","extra":1}`, `{} {}`, `[]`} {
		if _, err := DecodeEvent([]byte(in)); err == nil {
			t.Errorf("DecodeEvent(%s): got nil error", in)
		}
	}
}

func TestEvent_Validate(t *testing.T) {
	at := time.Unix(1700000000, 0)
	ok := Event{ID: NewEventID(at), Kind: EventKeyCreated, Subject: "key:ab", Actor: "key:01", At: at}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	for name, mutate := range map[string]func(*Event){
		"receipt id": func(e *Event) { e.ID = NewID(at) },
		"kind":       func(e *Event) { e.Kind = "Key Created" },
		"no subject": func(e *Event) { e.Subject = "" },
		"no actor":   func(e *Event) { e.Actor = "" },
		"no time":    func(e *Event) { e.At = time.Time{} },
	} {
		e := ok
		mutate(&e)
		if err := e.Validate(); err == nil {
			t.Errorf("%s: got nil error", name)
		}
	}
	a, b := NewEventID(at), NewEventID(at.Add(time.Nanosecond))
	if !ValidEventID(a) || !ValidEventID(b) || a >= b || ValidEventID("evt_"+strings.Repeat("A", 24)) {
		t.Errorf("event ids: %s %s", a, b)
	}
}
