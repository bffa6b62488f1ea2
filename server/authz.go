package server

import (
	"net/http"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/toolgate/toolgate/registry"
)

// roleSet is a set of key roles.
type roleSet uint8

const (
	publisher roleSet = 1 << iota
	invoker
	auditor
	adminOnly roleSet = 0 // admin is in every set
	anyRole           = publisher | invoker | auditor
)

func roleBit(role string) roleSet {
	switch role {
	case registry.RolePublisher:
		return publisher
	case registry.RoleInvoker:
		return invoker
	case registry.RoleAuditor:
		return auditor
	}
	return 0
}

// scoping tells whether a route's :name is a tool that the key's scopes must admit.
type scoping bool

const (
	scoped   scoping = true
	unscoped scoping = false
)

// permission is one row of the permission matrix: who, besides admin, may call a route.
type permission struct {
	Method string
	Path   string // the route's pattern as registered with Fiber
	Roles  roleSet
	Scope  scoping
}

// permissions is the permission matrix, the one place that says which role may call which route. Admin may call
// every route, with or without an entry. Any other role may call only the routes listed here for it, and a scoped
// route only for the tools its key's globs admit. A route registered without an entry is admin-only, and
// TestPermissions_CoverRoutes fails until it gets one. Scopes restrict the routes that name a tool; the receipt,
// log and usage routes are not tool-scoped.
var permissions = []permission{
	// Modules are not tools: any publisher uploads them. Auditors read what ran.
	{"POST", "/v1/modules", publisher, unscoped},
	{"GET", "/v1/modules/:digest", publisher | auditor, unscoped},
	{"GET", "/v1/modules/:digest/wasm", publisher | auditor, unscoped},

	// Every role reads the tools in its scope (the listing is filtered by it): invokers need descriptions and
	// input schemas, auditors what is pinned.
	{"GET", "/v1/tools", anyRole, unscoped},
	{"GET", "/v1/tools/:name", anyRole, scoped},
	{"GET", "/v1/tools/:name/versions/:version", anyRole, scoped},
	{"PUT", "/v1/tools/:name/versions/:version", publisher, scoped},
	{"POST", "/v1/tools/:name/pin", publisher, scoped},
	{"POST", "/v1/tools/:name/rollback", publisher, scoped},
	{"GET", "/v1/tools/:name/history", publisher | auditor, scoped},
	// Publishers do not invoke: who ships a tool and who calls it are separate duties.
	{"POST", "/v1/tools/:name/invoke", invoker, scoped},

	// Receipts, the log and usage are the auditor's.
	{"GET", "/v1/receipts", auditor, unscoped},
	{"GET", "/v1/receipts/:id", auditor, unscoped},
	{"GET", "/v1/receipts/:id/proof", auditor, unscoped},
	{"GET", "/v1/log/checkpoint", auditor, unscoped},
	{"GET", "/v1/log/consistency", auditor, unscoped},
	{"GET", "/v1/log/entries", auditor, unscoped},
	{"GET", "/v1/log/proof", auditor, unscoped},
	{"GET", "/v1/log/key", auditor, unscoped},
	{"GET", "/v1/usage", auditor, unscoped},

	// Secrets and keys: admin only.
	{"PUT", "/v1/secrets/:name", adminOnly, unscoped},
	{"GET", "/v1/secrets", adminOnly, unscoped},
	{"DELETE", "/v1/secrets/:name", adminOnly, unscoped},
	{"POST", "/v1/keys", adminOnly, unscoped},
	{"GET", "/v1/keys", adminOnly, unscoped},
	{"GET", "/v1/keys/:id", adminOnly, unscoped},
	{"DELETE", "/v1/keys/:id", adminOnly, unscoped},
	{"POST", "/v1/keys/:id/disable", adminOnly, unscoped},
	{"POST", "/v1/keys/:id/enable", adminOnly, unscoped},
}

// allows reports whether key may call the route p with the given :name.
func (p permission) allows(k registry.Key, name string) bool {
	if k.Role == registry.RoleAdmin {
		return true
	}
	if p.Roles&roleBit(k.Role) == 0 {
		return false
	}
	return p.Scope == unscoped || k.InScope(name)
}

// routeTable matches a request to the registered /v1 route Fiber will run, and to its permission. It is built
// from the app's routes on first use, so it sees every route however it was registered.
type routeTable struct {
	once   sync.Once
	routes []route
}

type route struct {
	method string
	segs   []string // pattern segments; ":x" matches any one segment
	static int      // number of literal segments, to prefer the most specific match
	perm   *permission
	name   int // index of the ":name" segment, or -1
}

// pattern is the route as registered, e.g. /v1/tools/:name/invoke.
func (r *route) pattern() string { return "/" + strings.Join(r.segs, "/") }

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (rt *routeTable) build(app *fiber.App) {
	perms := map[string]*permission{}
	for i := range permissions {
		p := &permissions[i]
		perms[p.Method+" "+p.Path] = p
	}
	seen := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/v1/") || r.Method == http.MethodHead || seen[r.Method+" "+r.Path] {
			continue
		}
		seen[r.Method+" "+r.Path] = true
		x := route{method: r.Method, segs: splitPath(r.Path), perm: perms[r.Method+" "+r.Path], name: -1}
		for i, s := range x.segs {
			switch {
			case s == ":name":
				x.name = i
			case !strings.HasPrefix(s, ":"):
				x.static++
			}
		}
		rt.routes = append(rt.routes, x)
	}
}

// match finds the route Fiber runs for method and path (case-insensitive, trailing slash ignored, as Fiber's
// defaults route), and the value of its :name segment.
func (rt *routeTable) match(method, path string) (r *route, name string, ok bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	segs := splitPath(path)
	for i := range rt.routes {
		x := &rt.routes[i]
		if x.method != method || len(x.segs) != len(segs) || (r != nil && x.static <= r.static) {
			continue
		}
		if matchSegs(x.segs, segs) {
			r = x
		}
	}
	if r == nil {
		return nil, "", false
	}
	if r.name >= 0 {
		name = segs[r.name]
	}
	return r, name, true
}

func matchSegs(pattern, segs []string) bool {
	for i, p := range pattern {
		if strings.HasPrefix(p, ":") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return false
		}
	}
	return true
}

// authorize is the /v1 middleware after authenticate: the permission matrix, then the key's rate limit. A
// request that matches no route passes on, for Fiber to answer 404 or 405.
func (s *Server) authorize(c *fiber.Ctx) error {
	s.gov.routes.once.Do(func() { s.gov.routes.build(s.app) })
	k := keyOf(c)
	r, name, ok := s.gov.routes.match(c.Method(), c.Path())
	if !ok {
		return c.Next()
	}
	allowed := k.Role == registry.RoleAdmin
	if r.perm != nil {
		allowed = r.perm.allows(k, name)
	}
	if !allowed {
		msg := "role " + k.Role + " may not " + c.Method() + " " + r.pattern()
		if r.perm != nil && r.perm.Roles&roleBit(k.Role) != 0 {
			msg = "tool " + name + " is outside this key's scopes"
		}
		return s.gov.reject(apiErr(http.StatusForbidden, CodeForbidden, msg))
	}
	if wait, ok := s.gov.limits.takeKey(k, s.now()); !ok {
		retryAfter(c, wait)
		return s.gov.reject(apiErr(http.StatusTooManyRequests, CodeRateLimited, "this key's rate limit is reached"))
	}
	return c.Next()
}
