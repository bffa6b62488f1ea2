package server

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/receipts"
)

// Stable error codes of the HTTP API. A code never changes meaning; messages may be reworded.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInvalidRequest   = "invalid_request"
	CodeInvalidName      = "invalid_name"
	CodeInvalidVersion   = "invalid_version"
	CodeInvalidModule    = "invalid_module"
	CodeTooLarge         = "too_large"
	CodeInvalidDocument  = "invalid_document"
	CodeUnknownModule    = "unknown_module"
	CodeMissingExport    = "missing_export"
	CodeAmbiguousABI     = "ambiguous_abi"
	CodeVersionConflict  = "version_conflict"
	CodeNoPreviousPin    = "no_previous_pin"
	CodeNoPin            = "no_pin"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

// statusOf maps an invoke status (also its error code) to the HTTP status the API returns.
var statusOf = map[string]int{
	receipts.StatusToolError:     http.StatusUnprocessableEntity,
	receipts.StatusTrap:          http.StatusUnprocessableEntity,
	receipts.StatusOutOfFuel:     http.StatusUnprocessableEntity,
	receipts.StatusMemoryLimit:   http.StatusUnprocessableEntity,
	receipts.StatusOutputLimit:   http.StatusUnprocessableEntity,
	receipts.StatusInputTooLarge: http.StatusRequestEntityTooLarge,
	receipts.StatusTimeout:       http.StatusGatewayTimeout,
}

// APIError is an error a client may see: an HTTP status, a stable code and a safe message. Anything else a
// handler returns is logged and answered as 500 internal, without its text.
type APIError struct {
	Status  int
	Code    string
	Message string
	Receipt string // set when a call ran
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Receipt string `json:"receipt,omitempty"`
}

// handleError is the Fiber error handler: every error leaves the server as the JSON error shape.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var ae *APIError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = fiberError(fe)
	default:
		s.log.Error("request failed", "request_id", c.Locals(localRequestID), "method", c.Method(),
			"path", c.Path(), "err", err)
		ae = apiErr(http.StatusInternalServerError, CodeInternal, "internal error")
	}
	var body errorBody
	body.Error.Code = ae.Code
	body.Error.Message = ae.Message
	body.Receipt = ae.Receipt
	if ae.Receipt != "" {
		c.Set(HeaderReceipt, ae.Receipt)
	}
	return c.Status(ae.Status).JSON(body)
}

func fiberError(fe *fiber.Error) *APIError {
	switch fe.Code {
	case http.StatusNotFound:
		return apiErr(fe.Code, CodeNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return apiErr(fe.Code, CodeMethodNotAllowed, "method not allowed")
	case http.StatusRequestEntityTooLarge:
		return apiErr(fe.Code, CodeTooLarge, "request body over the server's limit")
	case http.StatusRequestTimeout:
		return apiErr(fe.Code, CodeInvalidRequest, "request timed out")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return apiErr(fe.Code, CodeInvalidRequest, fe.Message)
	}
	return apiErr(http.StatusInternalServerError, CodeInternal, "internal error")
}
