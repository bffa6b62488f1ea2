package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/runtime"
)

// uploadModule validates, compiles and stores a module: 201 new, 200 already present.
func (s *Server) uploadModule(c *fiber.Ctx) error {
	wasm := c.Body()
	if int64(len(wasm)) > s.maxMod {
		return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("module is %d bytes, over the limit of %d", len(wasm), s.maxMod))
	}
	info, err := s.rt.Load(c.UserContext(), wasm)
	if err != nil {
		var me *runtime.ModuleError
		switch {
		case errors.Is(err, runtime.ErrModuleTooLarge):
			return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "module over the size limit")
		case errors.As(err, &me):
			return apiErr(http.StatusBadRequest, CodeInvalidModule, me.Reason)
		case errors.Is(err, runtime.ErrInvalidModule):
			return apiErr(http.StatusBadRequest, CodeInvalidModule, "invalid module")
		}
		return fmt.Errorf("load module: %w", err)
	}
	var stored registry.ModuleInfo
	var created bool
	err = s.logged(c, s.store, s.oneEvent(c, receipts.EventModuleUploaded, "module:"+info.Digest,
		map[string]string{"size": strconv.Itoa(len(wasm))}), func(ctx context.Context) (bool, error) {
		var err error
		stored, created, err = s.store.PutModule(ctx, registry.ModuleInfo{
			Digest: info.Digest, Size: int64(len(wasm)), Imports: nonNil(info.Imports), Exports: nonNil(info.Exports),
			CreatedAt: s.now().UTC(),
		}, wasm)
		if err != nil {
			return false, fmt.Errorf("store module[%s]: %w", info.Digest, err)
		}
		return created, nil
	})
	if err != nil {
		return err
	}
	if created {
		c.Status(http.StatusCreated)
	}
	return c.JSON(stored)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) moduleParam(c *fiber.Ctx) (string, error) {
	d := c.Params("digest")
	if !registry.ValidDigest(d) {
		return "", apiErr(http.StatusBadRequest, CodeInvalidRequest, "want a digest sha256:<64 lowercase hex>")
	}
	return d, nil
}

func (s *Server) getModule(c *fiber.Ctx) error {
	d, err := s.moduleParam(c)
	if err != nil {
		return err
	}
	info, err := s.store.Module(c.UserContext(), d)
	if err != nil {
		return storeErr(err, "module")
	}
	return c.JSON(info)
}

func (s *Server) getModuleWasm(c *fiber.Ctx) error {
	d, err := s.moduleParam(c)
	if err != nil {
		return err
	}
	b, err := s.store.ModuleBytes(c.UserContext(), d)
	if err != nil {
		return storeErr(err, "module")
	}
	c.Set(fiber.HeaderContentType, "application/wasm")
	return c.Send(b)
}

// storeErr maps registry errors to API errors; what is left is internal.
func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return apiErr(http.StatusNotFound, CodeNotFound, what+" not found")
	case errors.Is(err, registry.ErrConflict):
		return apiErr(http.StatusConflict, CodeVersionConflict,
			"version already published with a different document; publish a new version")
	case errors.Is(err, registry.ErrNoPreviousPin):
		return apiErr(http.StatusConflict, CodeNoPreviousPin, "no previous pin to roll back to")
	}
	return err
}

func toolParam(c *fiber.Ctx) (string, error) {
	name := c.Params("name")
	if !registry.ValidToolName(name) {
		return "", apiErr(http.StatusBadRequest, CodeInvalidName,
			"tool names match ^[a-z][a-z0-9-]{0,62}$")
	}
	return name, nil
}

func versionParam(c *fiber.Ctx) (string, error) {
	v := c.Params("version")
	if _, err := registry.ParseSemver(v); err != nil {
		return "", apiErr(http.StatusBadRequest, CodeInvalidVersion, "version "+err.Error())
	}
	return v, nil
}

// versionView is a published version as the API shows it.
type versionView struct {
	Tool        string          `json:"tool"`
	Version     string          `json:"version"`
	Module      string          `json:"module"`
	Manifest    string          `json:"manifest"`
	Document    json.RawMessage `json:"document"`
	PublishedBy string          `json:"published_by"`
	PublishedAt time.Time       `json:"published_at"`
	Pinned      bool            `json:"pinned"`
}

func viewOf(rec registry.VersionRecord, pin *registry.Pin) versionView {
	return versionView{Tool: rec.Tool, Version: rec.Version, Module: rec.Module, Manifest: rec.Manifest,
		Document: rec.Document, PublishedBy: rec.PublishedBy, PublishedAt: rec.PublishedAt,
		Pinned: pin != nil && pin.Version == rec.Version}
}

// publish stores a version document: 201 new, 200 identical, 409 different, 422 invalid.
func (s *Server) publish(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	version, err := versionParam(c)
	if err != nil {
		return err
	}
	doc, err := registry.ParseDocument(c.Body())
	if err != nil {
		return apiErr(http.StatusUnprocessableEntity, CodeInvalidDocument, err.Error())
	}
	ctx := c.UserContext()
	info, err := s.store.Module(ctx, doc.Module)
	if errors.Is(err, registry.ErrNotFound) {
		return apiErr(http.StatusUnprocessableEntity, CodeUnknownModule,
			"module "+doc.Module+" is not uploaded; POST it to /v1/modules first")
	}
	if err != nil {
		return err
	}
	if err := completeDocument(doc, info); err != nil {
		return err
	}
	if err := s.checkEntry(ctx, doc); err != nil {
		return err
	}
	if err := doc.Normalize(s.policy); err != nil {
		return apiErr(http.StatusUnprocessableEntity, CodeInvalidDocument, err.Error())
	}
	canon, manifest, err := doc.Canonical()
	if err != nil {
		return fmt.Errorf("canonical document: %w", err)
	}
	var res registry.PublishResult
	err = s.logged(c, s.store, func(ch registry.Change) []*receipts.Event {
		evs := []*receipts.Event{s.event(c, receipts.EventVersionPublished, "tool:"+name, "", map[string]string{
			"version": version, "module": doc.Module, "manifest": manifest})}
		return append(evs, pinEvents(ch)...) // the first version's automatic pin, if this is it
	}, func(ctx context.Context) (bool, error) {
		var err error
		res, err = s.store.Publish(ctx, registry.VersionRecord{
			Tool: name, Version: version, Module: doc.Module, Manifest: manifest, Document: canon,
			PublishedBy: principal(c), PublishedAt: s.now().UTC(),
		})
		if err != nil {
			return false, storeErr(err, "module")
		}
		return res.Created, nil
	})
	if err != nil {
		return err
	}
	if res.Created {
		c.Status(http.StatusCreated)
	}
	tool, err := s.store.Tool(ctx, name)
	if err != nil {
		return err
	}
	return c.JSON(viewOf(res.Record, tool.Pin))
}

// completeDocument settles the ABI and entry against the module: an omitted ABI is inferred (ambiguity is a
// 422), an omitted extism entry is "run", and the entry must be an export.
func completeDocument(doc *registry.Document, info registry.ModuleInfo) error {
	if doc.ABI == "" {
		abi := runtime.InferABI(runtime.ModuleInfo{Digest: info.Digest, Imports: info.Imports, Exports: info.Exports})
		if abi == "" {
			return apiErr(http.StatusUnprocessableEntity, CodeAmbiguousABI,
				`cannot tell the module's ABI from its imports and exports; set "abi"`)
		}
		doc.ABI = string(abi)
	}
	switch doc.ABI {
	case registry.ABIWASICommand:
		if doc.Entry != "" && doc.Entry != "_start" {
			return apiErr(http.StatusUnprocessableEntity, CodeInvalidDocument,
				`a wasi-command runs "_start"; leave "entry" out`)
		}
		doc.Entry = "_start"
	default:
		if doc.Entry == "" {
			doc.Entry = "run"
		}
	}
	return nil
}

// checkEntry asks the runtime whether the entry is an export with the ABI's signature, loading the module first
// if this process has not compiled it yet.
func (s *Server) checkEntry(ctx context.Context, doc *registry.Document) error {
	check := func() error { return s.rt.CheckEntry(ctx, doc.Module, runtime.ABI(doc.ABI), doc.Entry) }
	err := check()
	if errors.Is(err, runtime.ErrNotLoaded) {
		if err = s.load(ctx, doc.Module); err == nil {
			err = check()
		}
	}
	switch {
	case errors.Is(err, runtime.ErrUnknownEntry):
		return apiErr(http.StatusUnprocessableEntity, CodeMissingExport,
			fmt.Sprintf("entry %q: not an exported function of the module with the %s signature", doc.Entry, doc.ABI))
	case errors.Is(err, runtime.ErrUnknownABI):
		return apiErr(http.StatusUnprocessableEntity, CodeInvalidDocument,
			fmt.Sprintf("the module does not fit the %s ABI", doc.ABI))
	}
	return err
}

func (s *Server) getVersion(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	version, err := versionParam(c)
	if err != nil {
		return err
	}
	rec, err := s.store.Version(c.UserContext(), name, version)
	if err != nil {
		return storeErr(err, "version")
	}
	tool, err := s.store.Tool(c.UserContext(), name)
	if err != nil {
		return storeErr(err, "tool")
	}
	return c.JSON(viewOf(rec, tool.Pin))
}

func (s *Server) listTools(c *fiber.Ctx) error {
	tools, err := s.store.Tools(c.UserContext())
	if err != nil {
		return err
	}
	tools = inScope(keyOf(c), tools)
	if tools == nil {
		tools = []registry.Tool{}
	}
	return c.JSON(fiber.Map{"tools": tools})
}

func (s *Server) getTool(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	t, err := s.store.Tool(c.UserContext(), name)
	if err != nil {
		return storeErr(err, "tool")
	}
	return c.JSON(t)
}

// decodeStrict decodes a JSON request body with unknown fields rejected.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "request body: "+jsonReason(err))
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "request body: trailing data")
	}
	return nil
}

func jsonReason(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("field %q has the wrong type", ute.Field)
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return err.Error()
}

type pinRequest struct {
	Version string `json:"version,omitempty"`
	Module  string `json:"module,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// pin moves the tool's pin to a version, or to the newest version that runs a given module.
func (s *Server) pin(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	var req pinRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if (req.Version == "") == (req.Module == "") {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, `give exactly one of "version" or "module"`)
	}
	if len(req.Reason) > 1024 {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "reason longer than 1024 bytes")
	}
	version := req.Version
	if req.Module != "" {
		if version, err = s.versionOfModule(c, name, req.Module); err != nil {
			return err
		}
	} else if _, err := registry.ParseSemver(version); err != nil {
		return apiErr(http.StatusBadRequest, CodeInvalidVersion, "version "+err.Error())
	}
	at := s.now().UTC()
	var ev registry.Event
	err = s.logged(c, s.store, pinEvents, func(ctx context.Context) (bool, error) {
		var err error
		if ev, err = s.store.SetPin(ctx, name, version, principal(c), req.Reason, at); err != nil {
			return false, storeErr(err, "tool version")
		}
		return ev.At.Equal(at), nil // else a no-op, returning the standing pin's event
	})
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

// versionOfModule finds the newest version of tool that runs module.
func (s *Server) versionOfModule(c *fiber.Ctx, tool, module string) (string, error) {
	if !registry.ValidDigest(module) {
		return "", apiErr(http.StatusBadRequest, CodeInvalidRequest, "want a digest sha256:<64 lowercase hex>")
	}
	t, err := s.store.Tool(c.UserContext(), tool)
	if err != nil {
		return "", storeErr(err, "tool")
	}
	for i := len(t.Versions) - 1; i >= 0; i-- {
		rec, err := s.store.Version(c.UserContext(), tool, t.Versions[i])
		if err != nil {
			return "", err
		}
		if rec.Module == module {
			return rec.Version, nil
		}
	}
	return "", apiErr(http.StatusNotFound, CodeNotFound, "no version of the tool runs module "+module)
}

type rollbackRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) rollback(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	var req rollbackRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeStrict(c.Body(), &req); err != nil {
			return err
		}
	}
	var ev registry.Event
	err = s.logged(c, s.store, pinEvents, func(ctx context.Context) (bool, error) {
		var err error
		if ev, err = s.store.Rollback(ctx, name, principal(c), req.Reason, s.now().UTC()); err != nil {
			return false, storeErr(err, "tool")
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return c.JSON(ev)
}

func (s *Server) history(c *fiber.Ctx) error {
	name, err := toolParam(c)
	if err != nil {
		return err
	}
	evs, err := s.store.History(c.UserContext(), name)
	if err != nil {
		return storeErr(err, "tool")
	}
	if evs == nil {
		evs = []registry.Event{}
	}
	return c.JSON(fiber.Map{"events": evs})
}

// pinEvents makes the log events of a pin or rollback from the history events it made.
func pinEvents(ch registry.Change) []*receipts.Event {
	evs := make([]*receipts.Event, len(ch.History))
	for i, h := range ch.History {
		evs[i] = pinEvent(h)
	}
	return evs
}
