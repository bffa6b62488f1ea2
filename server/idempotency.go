package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/registry"
)

// Idempotency headers.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// maxStoredResponse caps the body kept for replay. Outputs are capped by max_output_bytes (16 MiB at the default
// ceiling); a server configured for larger outputs keeps, for a call whose response is larger than this, a 409
// idempotency_response_not_kept that names the call's receipt: a retry must still not run the call again.
var maxStoredResponse = 32 << 20

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// fingerprint identifies what an invoke asks for: the ref it names ("" for the pin) and its input bytes.
func fingerprint(ref string, input []byte) string {
	in := sha256.Sum256(input)
	h := sha256.New()
	h.Write([]byte("toolgate-invoke-v1\x00ref\x00" + ref + "\x00input\x00"))
	h.Write(in[:])
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func newClaim() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// idempotent is the invoke middleware for Idempotency-Key. The key is scoped to the API key and the tool, and
// bound to the request's fingerprint (ref and input). The first request claims it and runs; when its call reached
// the sandbox (it has a receipt, success or failure), the response is stored until the TTL passes and replayed
// to every retry with the same fingerprint, with Idempotent-Replayed: true, without running anything. A request
// that ends before its call ran (404, 429, …) releases the claim, so a retry may run. A different fingerprint
// under the same key is 422 idempotency_key_reused; a retry while the first request runs is 409
// idempotency_key_in_flight.
func (s *Server) idempotent(c *fiber.Ctx) error {
	ik := c.Get(HeaderIdempotencyKey)
	tool := c.Params("name")
	if ik == "" || !registry.ValidToolName(tool) {
		return c.Next()
	}
	if !validIdempotencyKey(ik) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest,
			"Idempotency-Key must be 1 to 255 printable ASCII characters")
	}
	ctx := c.UserContext()
	now := s.now()
	rec := registry.IdempotencyRecord{
		Key: keyOf(c).ID + "\x00" + tool + "\x00" + ik, Fingerprint: fingerprint(c.Query("ref"), c.Body()),
		Claim: newClaim(), CreatedAt: now.UTC(), ExpiresAt: now.Add(s.gov.lease).UTC(),
	}
	held, claimed, err := s.gov.idem.BeginIdempotency(ctx, rec, now)
	if err != nil {
		return err
	}
	if !claimed {
		switch {
		case held.Fingerprint != rec.Fingerprint:
			return s.gov.reject(apiErr(http.StatusUnprocessableEntity, CodeIdempotencyKeyReused,
				"this Idempotency-Key was used for a different request (another ref or input) to this tool"))
		case !held.Done || held.Response == nil:
			retryAfter(c, time.Second)
			return s.gov.reject(apiErr(http.StatusConflict, CodeIdempotencyKeyInFlight,
				"a request with this Idempotency-Key is still running"))
		}
		s.gov.replays.Inc()
		for k, v := range held.Response.Headers {
			c.Set(k, v)
		}
		c.Set(HeaderReplayed, "true")
		return c.Status(held.Response.Status).Send(held.Response.Body)
	}

	err = c.Next()

	// The stores' writes below outlive a client that hung up.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var receipt string
	var ae *APIError
	switch {
	case err == nil:
		receipt = string(c.Response().Header.Peek(HeaderReceipt))
	case errors.As(err, &ae):
		receipt = ae.Receipt
	}
	if receipt == "" {
		// Nothing ran: nothing to replay.
		if rerr := s.gov.idem.ReleaseIdempotency(wctx, rec.Key, rec.Claim); rerr != nil {
			s.log.Warn("release idempotency claim", "request_id", c.Locals(localRequestID), "err", rerr)
		}
		return err
	}
	if err != nil {
		// Answer the failure now, so that the bytes stored are the bytes sent.
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	resp := c.Response()
	stored := &registry.StoredResponse{Status: resp.StatusCode(), Headers: map[string]string{},
		Body: bytes.Clone(resp.Body()), Receipt: receipt}
	if ct := resp.Header.ContentType(); len(ct) > 0 {
		stored.Headers[fiber.HeaderContentType] = string(ct)
	}
	resp.Header.VisitAll(func(k, v []byte) {
		if name := string(k); strings.HasPrefix(strings.ToLower(name), "toolgate-") {
			stored.Headers[name] = string(v)
		}
	})
	if len(stored.Body) > maxStoredResponse {
		body, _ := json.Marshal(errorBody{Receipt: receipt, Error: struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{CodeIdempotencyResponseNotKept, fmt.Sprintf("the call ran (receipt %s), but its response of %d bytes "+
			"was too large to keep for a retry", receipt, len(stored.Body))}})
		stored = &registry.StoredResponse{Status: http.StatusConflict, Body: body, Receipt: receipt,
			Headers: map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON, HeaderReceipt: receipt}}
	}
	done := rec
	done.Done, done.Response = true, stored
	end := s.now()
	done.ExpiresAt = end.Add(s.gov.idemTTL).UTC()
	if cerr := s.gov.idem.CompleteIdempotency(wctx, done, end); cerr != nil {
		// The call ran and its receipt is durable; only its replay is lost. Say so, and answer.
		s.log.Error("store idempotent response", "request_id", c.Locals(localRequestID), "receipt", receipt,
			"err", cerr)
		if !errors.Is(cerr, registry.ErrClaimLost) {
			_ = s.gov.idem.ReleaseIdempotency(wctx, rec.Key, rec.Claim)
		}
	}
	return nil
}
