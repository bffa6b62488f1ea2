//go:build wasip1

// Command refund is the example of Toolgate's doors: an Extism tool (Go PDK) that issues a refund through a
// payments API with the payments key, without ever holding the key. It writes the placeholder
// {{secret:PAYMENTS_KEY}} into its Authorization header; the network door substitutes the value only because the
// version's grants bind PAYMENTS_KEY to the payments host, and masks it out of the answer. Pointed anywhere else,
// the same request is refused and recorded in the call's receipt.
//
// Input {"order_id":"A-1001","amount_cents":1250}; config "payments_url" (the API's base URL, e.g.
// https://api.payments.example). Output: the API's JSON answer. Any answer but 2xx is a tool error that carries
// the status; a request the door refuses comes back as a 403 with a "toolgate-door" header.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (see plugins/build.sh). Manifest: manifest.json.
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/extism/go-pdk"
)

type refundInput struct {
	OrderID     string `json:"order_id"`
	AmountCents int64  `json:"amount_cents"`
}

//go:wasmexport run
func run() int32 {
	var in refundInput
	if err := json.Unmarshal(pdk.Input(), &in); err != nil || in.OrderID == "" || in.AmountCents <= 0 {
		pdk.SetError(errors.New(`want {"order_id":"…","amount_cents":N} with N > 0`))
		return 1
	}
	base, ok := pdk.GetConfig("payments_url")
	if !ok {
		pdk.SetError(errors.New(`config "payments_url" is not set`))
		return 1
	}
	body, _ := json.Marshal(map[string]any{"order_id": in.OrderID, "amount_cents": in.AmountCents})
	req := pdk.NewHTTPRequest(pdk.MethodPost, base+"/v1/refunds")
	req.SetHeader("Authorization", "Bearer {{secret:PAYMENTS_KEY}}")
	req.SetHeader("Content-Type", "application/json")
	req.SetBody(body)
	res := req.Send()
	if s := res.Status(); s < 200 || s > 299 {
		pdk.SetError(fmt.Errorf("payments API answered %d: %s", s, res.Body()))
		return 1
	}
	pdk.Output(res.Body())
	return 0
}

func main() {}
