package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/runtime"
)

// resolve finds the version a call runs: the pin, or ref as a version or a module digest of the tool.
func (s *Server) resolve(c *fiber.Ctx, tool, ref string) (registry.VersionRecord, error) {
	ctx := c.UserContext()
	switch {
	case ref == "":
		t, err := s.store.Tool(ctx, tool)
		if err != nil {
			return registry.VersionRecord{}, storeErr(err, "tool")
		}
		if t.Pin == nil {
			return registry.VersionRecord{}, apiErr(http.StatusConflict, CodeNoPin, "tool has no pinned version")
		}
		ref = t.Pin.Version
	case strings.HasPrefix(ref, "sha256:"):
		v, err := s.versionOfModule(c, tool, ref)
		if err != nil {
			return registry.VersionRecord{}, err
		}
		ref = v
	default:
		if _, err := registry.ParseSemver(ref); err != nil {
			return registry.VersionRecord{}, apiErr(http.StatusBadRequest, CodeInvalidVersion, "ref "+err.Error())
		}
	}
	rec, err := s.store.Version(ctx, tool, ref)
	if err != nil {
		return registry.VersionRecord{}, storeErr(err, "tool version")
	}
	return rec, nil
}

// document returns a version's parsed document, parsing each manifest once.
func (s *Server) document(rec registry.VersionRecord) (*registry.Document, error) {
	if d, ok := s.docs.Load(rec.Manifest); ok {
		return d.(*registry.Document), nil
	}
	d, err := registry.ParseDocument(rec.Document)
	if err != nil {
		return nil, fmt.Errorf("stored document tool[%s] version[%s]: %w", rec.Tool, rec.Version, err)
	}
	s.docs.Store(rec.Manifest, d)
	return d, nil
}

// invoke runs a tool in a fresh sandbox, writes the receipt durably, then answers.
func (s *Server) invoke(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	rec, err := s.resolve(c, name, c.Query("ref"))
	if err != nil {
		return err
	}
	doc, err := s.document(rec)
	if err != nil {
		return err
	}
	lim := doc.Limits.Values()
	input := c.Body()
	call := runtime.Call{
		Module: rec.Module, ABI: runtime.ABI(doc.ABI), Entry: doc.Entry, Input: input, Config: doc.Config,
		Limits: runtime.Limits{
			Fuel: lim.Fuel, MemoryBytes: lim.MemoryBytes, Timeout: time.Duration(lim.TimeoutMS) * time.Millisecond,
			MaxInputBytes: int64(lim.MaxInputBytes), MaxOutputBytes: int64(lim.MaxOutputBytes),
			MaxHTTPRequests: int(lim.MaxHTTPRequests),
		},
		Policy: doorPolicy(doc), Secrets: s.callSecrets(),
	}
	ctx := c.UserContext()
	if ex, ok := s.rcpts.(receipts.Expecter); ok {
		// Tell the group committer a receipt is coming, so it commits without lingering once every call running
		// has queued its receipt.
		var withdraw func()
		ctx, withdraw = ex.Expect(ctx)
		defer withdraw()
	}
	started := s.now()
	res, err := s.run(ctx, call)
	if err != nil {
		return fmt.Errorf("invoke tool[%s] version[%s]: %w", rec.Tool, rec.Version, err)
	}
	r := &receipts.Receipt{
		ID: receipts.NewID(started), Tool: rec.Tool, Version: rec.Version, Module: rec.Module,
		Manifest: rec.Manifest, Principal: principal(c), IdempotencyKey: c.Get("Idempotency-Key"),
		StartedAt: started.UTC(), WallNS: int64(res.Wall), Status: res.Status, Error: res.Error,
		Input: receipts.BlobOf(input), Output: receipts.BlobOf(res.Output), Fuel: res.Fuel,
		Memory: receipts.Memory{LimitBytes: lim.MemoryBytes, PeakBytes: res.PeakMemoryBytes},
		HTTP:   res.HTTP, Secrets: res.Secrets, Logs: res.LogCount,
	}
	if res.Status != receipts.StatusOK {
		r.Output = receipts.BlobOf(nil) // a failed call returns no output
	}
	s.meter(c, r)
	// A 200 means the receipt is durable: append before answering, with its own deadline so a client that hung
	// up does not leave a call without its receipt.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	err = s.rcpts.Append(actx, r)
	cancel()
	if err != nil {
		return fmt.Errorf("append receipt[%s]: %w", r.ID, err)
	}
	s.metrics.observeCall(rec.Tool, res.Status, res.Wall)
	c.Set(HeaderReceipt, r.ID)
	c.Set(HeaderModule, rec.Module)
	c.Set(HeaderVersion, rec.Version)
	if res.Fuel != nil {
		c.Set(HeaderFuelUsed, strconv.FormatUint(res.Fuel.Used, 10))
	}
	if res.Status != receipts.StatusOK {
		code, ok := statusOf[res.Status]
		if !ok {
			code = http.StatusUnprocessableEntity
		}
		return &APIError{Status: code, Code: res.Status, Message: res.Error, Receipt: r.ID}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	return c.Send(res.Output)
}

// run invokes the call, loading the module from the registry first if this process has not compiled it yet
// (after a restart, the on-disk compilation cache makes that cheap).
func (s *Server) run(ctx context.Context, call runtime.Call) (runtime.Result, error) {
	res, err := s.rt.Invoke(ctx, call)
	if !errors.Is(err, runtime.ErrNotLoaded) {
		if err == nil {
			s.metrics.compileCache.WithLabelValues("hit").Inc()
		}
		return res, err
	}
	s.metrics.compileCache.WithLabelValues("miss").Inc()
	if err := s.load(ctx, call.Module); err != nil {
		return runtime.Result{}, err
	}
	return s.rt.Invoke(ctx, call)
}

// load compiles a stored module into the runtime.
func (s *Server) load(ctx context.Context, digest string) error {
	wasm, err := s.store.ModuleBytes(ctx, digest)
	if err != nil {
		return fmt.Errorf("module[%s]: %w", digest, err)
	}
	if _, err := s.rt.Load(ctx, wasm); err != nil {
		return fmt.Errorf("load module[%s]: %w", digest, err)
	}
	return nil
}

// getReceipt returns a receipt in its canonical JSON, the bytes an auditor hashes.
func (s *Server) getReceipt(c *fiber.Ctx) error {
	id := c.Params("id")
	if !receipts.ValidID(id) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "receipt ids look like rcpt_<24 hex>")
	}
	r, err := s.rcpts.Get(c.UserContext(), id)
	if errors.Is(err, receipts.ErrNotFound) {
		return apiErr(http.StatusNotFound, CodeNotFound, "receipt not found")
	}
	if err != nil {
		return err
	}
	b, err := r.Canonical()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

func (s *Server) listReceipts(c *fiber.Ctx) error {
	f := receipts.Filter{Tool: c.Query("tool"), Status: c.Query("status"), Cursor: c.Query("cursor")}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return apiErr(http.StatusBadRequest, CodeInvalidRequest, "since must be an RFC 3339 time")
		}
		f.Since = t
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return apiErr(http.StatusBadRequest, CodeInvalidRequest, "limit must be 1 to 1000")
		}
		f.Limit = n
	}
	page, next, err := s.rcpts.List(c.UserContext(), f)
	if errors.Is(err, receipts.ErrBadCursor) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "malformed cursor")
	}
	if err != nil {
		return err
	}
	if page == nil {
		page = []*receipts.Receipt{}
	}
	return c.JSON(fiber.Map{"receipts": page, "next_cursor": next})
}
