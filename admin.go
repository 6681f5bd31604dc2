package poeopenai

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/poe-openai/caddy-poe-openai/internal/core"
	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/points"
	"github.com/poe-openai/caddy-poe-openai/internal/status"
	"github.com/poe-openai/caddy-poe-openai/internal/team"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

func init() {
	caddy.RegisterModule(adminStatus{})
}

// adminStatus serves the status of every running poe_openai handler on
// Caddy's admin endpoint: GET /poe_openai/status (JSON) and GET
// /poe_openai/ (a page). Caddy loads every admin.api module by itself, so
// it needs no config; it is where the admin API is, and as safe as that
// (localhost:2019 by default). Nothing it shows is a secret: keys appear
// as fingerprints, clients by name.
type adminStatus struct{}

// CaddyModule returns the Caddy module information.
func (adminStatus) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.poe_openai",
		New: func() caddy.Module { return adminStatus{} },
	}
}

// Routes implements caddy.AdminRouter.
func (a adminStatus) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/poe_openai/status", Handler: caddy.AdminHandlerFunc(a.serveJSON)},
		{Pattern: "/poe_openai/", Handler: caddy.AdminHandlerFunc(a.servePage)},
	}
}

var _ caddy.AdminRouter = adminStatus{}

func (adminStatus) serveJSON(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGet(r); err != nil {
		return err
	}
	s := snapshot(time.Now())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return status.WriteJSON(w, s)
}

func (adminStatus) servePage(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/poe_openai/" {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("not found; the status is at /poe_openai/ and /poe_openai/status")}
	}
	if err := onlyGet(r); err != nil {
		return err
	}
	s := snapshot(time.Now())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page needs nothing from elsewhere; say so to the browser too.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	return status.WriteHTML(w, s)
}

func onlyGet(r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: errors.New("method not allowed; use GET")}
	}
	return nil
}

// running is every provisioned handler, in the order provisioned: added
// at Provision, removed at Cleanup. During a reload the new config's
// handlers are listed before the old ones leave.
var running struct {
	sync.Mutex
	handlers []*Handler
}

func registerStatus(h *Handler, fps []string) {
	h.keyErrs = newKeyErrors(fps)
	running.Lock()
	running.handlers = append(running.handlers, h)
	running.Unlock()
}

func unregisterStatus(h *Handler) {
	running.Lock()
	running.handlers = slices.DeleteFunc(running.handlers, func(x *Handler) bool { return x == h })
	running.Unlock()
}

// snapshot reads every running handler. The registry's lock is held only
// to copy the list: reading a pool in Redis or a usage store takes time.
func snapshot(now time.Time) *status.Snapshot {
	running.Lock()
	hs := slices.Clone(running.handlers)
	running.Unlock()
	sites := siteNames()
	s := &status.Snapshot{Generated: now.UTC(), Handlers: []status.Handler{}}
	for i, h := range hs {
		s.Handlers = append(s.Handlers, h.status(i+1, sites[h], now))
	}
	return s
}

// status is one handler's part of the snapshot.
func (h *Handler) status(id int, site string, now time.Time) status.Handler {
	out := status.Handler{ID: id, Site: site, PointsFloor: h.PointsFloor, PointsCheck: "off",
		Keys: []status.Key{}, Clients: []status.Client{}}
	if d := h.pointsInterval(); d > 0 {
		out.PointsCheck = d.String()
	}
	if h.pool != nil {
		out.Keys = h.keyStatus()
	}
	for _, c := range h.Clients {
		out.Clients = append(out.Clients, h.clientStatus(c, now))
	}
	return out
}

func (h *Handler) keyStatus() []status.Key {
	var readings map[string]points.Reading
	if h.points != nil {
		readings = h.points.Readings()
	}
	keys := h.pool.Status()
	out := make([]status.Key, 0, len(keys))
	for _, t := range keys {
		k := status.Key{Fingerprint: t.Fingerprint, State: t.State, Reason: t.Reason,
			StartsInWindow: t.StartsInWindow, InFlight: t.InFlight}
		if !t.Until.IsZero() {
			k.Until = ptr(t.Until.UTC())
		}
		var errAt time.Time
		if r, ok := readings[t.Fingerprint]; ok {
			if r.Known {
				k.Points, k.PointsAt = ptr(r.Points), ptr(r.At.UTC())
			}
			if r.Err != "" {
				k.LastError, errAt = "balance: "+r.Err, r.ErrAt
			}
		}
		if msg, at := h.keyErrs.get(t.Fingerprint); msg != "" && at.After(errAt) {
			k.LastError, errAt = msg, at
		}
		if k.LastError != "" {
			k.LastErrorAt = ptr(errAt.UTC())
		}
		out = append(out, k)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// clientStatus reads one named client's use. A store that cannot be read
// (Redis down) leaves the figures at zero and says why.
func (h *Handler) clientStatus(c *team.Client, now time.Time) status.Client {
	out := status.Client{Name: c.Name, RateLimit: c.RateLimit}
	if out.RateLimit == 0 {
		out.RateLimit = h.ClientRateLimit
	}
	if l, ok := h.limiterFor(c.Name).(tokenpool.Windowed); ok {
		out.RateUsed = l.Used(c.Name)
	}
	if h.accounts == nil {
		return out
	}
	sum, err := h.accounts.Summarize(c, status.ChartDays)
	if err != nil {
		out.Error = "usage unavailable: " + err.Error()
		return out
	}
	out.Today, out.Month = usageOf(sum.Today), usageOf(sum.Month)
	for _, b := range sum.Budgets {
		out.Budgets = append(out.Budgets, status.Budget{Budget: b.String(), Limit: b.Limit, Unit: string(b.Unit),
			Per: string(b.Period), Used: b.Used, Left: b.Left, Resets: b.Resets.UTC()})
	}
	for _, d := range sum.Daily {
		out.Daily = append(out.Daily, status.Day{Date: d.Day.String(), Requests: d.Requests, Tokens: d.Tokens()})
	}
	return out
}

func usageOf(c team.Counts) status.Usage {
	return status.Usage{Requests: c.Requests, Errors: c.Errors, PromptTokens: c.Prompt, CompletionTokens: c.Completion, Tokens: c.Tokens()}
}

// keyErrors is the last failure seen on each pool key by a request. Its
// set of keys is fixed at provision, so a client sending many keys of its
// own (passthrough) cannot grow it.
type keyErrors struct {
	mu   sync.Mutex
	last map[string]keyError
}

type keyError struct {
	msg string
	at  time.Time
}

func newKeyErrors(fps []string) *keyErrors {
	k := &keyErrors{last: make(map[string]keyError, len(fps))}
	for _, fp := range fps {
		k.last[fp] = keyError{}
	}
	return k
}

// note records what a request learnt of keys: each key it set aside, and
// the key of its last attempt when the client got an error from Poe.
func (k *keyErrors) note(rep *core.Report) {
	o := rep.Outcome
	if k == nil || o == nil {
		return
	}
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	set := func(fp, msg string) {
		if _, ok := k.last[fp]; ok {
			k.last[fp] = keyError{msg, now}
		}
	}
	var pe *poeclient.Error
	if o.Err != nil && rep.Status >= 400 && rep.Status != core.StatusClientGone && errors.As(o.Err, &pe) {
		set(o.Token, pe.Message)
	}
	for _, ev := range o.Tokens {
		set(ev.Token, ev.State+": "+ev.Reason)
	}
}

func (k *keyErrors) get(fp string) (string, time.Time) {
	if k == nil {
		return "", time.Time{}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.last[fp]
	return e.msg, e.at
}

// siteNames labels each handler of the running config with where it
// serves: the server's name and listen addresses, and the hosts its route
// matches. Handlers of a config being replaced get no label.
func siteNames() map[*Handler]string {
	out := map[*Handler]string{}
	app, err := caddy.ActiveContext().AppIfConfigured("http")
	if err != nil {
		return out
	}
	httpApp, ok := app.(*caddyhttp.App)
	if !ok {
		return out
	}
	names := make([]string, 0, len(httpApp.Servers))
	for name := range httpApp.Servers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		srv := httpApp.Servers[name]
		walkRoutes(srv.Routes, nil, func(h *Handler, hosts []string) {
			label := name + " " + strings.Join(srv.Listen, " ")
			if len(hosts) > 0 {
				label = strings.Join(hosts, " ") + " (" + label + ")"
			}
			out[h] = label
		})
	}
	return out
}

func walkRoutes(routes caddyhttp.RouteList, hosts []string, found func(*Handler, []string)) {
	for _, rt := range routes {
		hs := hosts
		for _, set := range rt.MatcherSets {
			for _, m := range set {
				switch mh := m.(type) {
				case caddyhttp.MatchHost:
					hs = append(slices.Clone(hs), mh...)
				case *caddyhttp.MatchHost:
					hs = append(slices.Clone(hs), *mh...)
				}
			}
		}
		for _, mh := range rt.Handlers {
			switch v := mh.(type) {
			case *Handler:
				found(v, hs)
			case *caddyhttp.Subroute:
				walkRoutes(v.Routes, hs, found)
			}
		}
	}
}
