// Package poefake is a scriptable fake of Poe's bot API (api.poe.com/bot/,
// the file upload endpoint, /usage/current_balance and /v1/models) for
// tests, benchmarks and offline demos. It replays the test vectors of
// /work/shared/reference/poe-protocol.md section 7 byte for byte and records
// what clients send, flagging protocol violations.
package poefake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// Options configures a Server.
type Options struct {
	Framing Framing // line separator on the wire; default CRLF
	// PingInterval, if > 0, sends the comment ": ping - <utc time>" every
	// interval while a stream is open, like sse-starlette. 0 = none. Not
	// sent on a response that starts with a Status step.
	PingInterval time.Duration
	// BaseURL is the public base URL used to build upload attachment URLs
	// (e.g. "http://127.0.0.1:8081/poe_api"); default: derived from the
	// request's Host and the path prefix before the upload endpoint.
	BaseURL string
	// MaxRecords, if > 0, keeps only the newest MaxRecords request records,
	// so that long benchmarks do not grow without bound. 0 = keep all.
	MaxRecords int
	// Lean skips decoding, checking and recording requests, for
	// benchmarks: there the fake should cost no more per request than
	// Poe's own server does for the client, and no more than the OpenAI
	// mirror it is compared with. Token behaviours and the answers on the
	// wire are unchanged.
	Lean bool
	// EchoUnknown answers a bot name it does not know as Echo would, so
	// that any config's model names work offline (cmd/poefake -echo-unknown).
	EchoUnknown bool
}

// Server is the fake; it is an http.Handler. Routes match on the path
// suffix, so it can be mounted under any prefix.
type Server struct {
	opts      Options
	framing   atomic.Int32
	closed    chan struct{}
	closeOnce sync.Once

	// mu guards everything below. It is held only briefly and never while
	// writing to a client.
	mu            sync.Mutex
	bots          map[string]Bot
	dynamic       map[string]Bot // parsed Chunks-/Slow- bots, cached
	unknownStatus int
	records       []Request
	attempts      map[string]int
	starts        map[string][]time.Time
	admitted      map[string][]time.Time // per-token limit history
	violations    []string
	tokens        map[string]TokenBehavior
	balances      map[string]int
	balanceReads  map[string]int // /usage/current_balance calls per key
	rateReset     time.Duration
	perMinute     int
	uploads       []Upload
	files         map[string]storedFile
	failUploads   int
	models        []string
	modelHits     int
}

const maxQueryBody = 32 << 20

// New returns a fake with the built-in bots registered.
func New(opts Options) *Server {
	s := &Server{
		opts:      opts,
		closed:    make(chan struct{}),
		bots:      map[string]Bot{},
		dynamic:   map[string]Bot{},
		tokens:    map[string]TokenBehavior{},
		balances:  map[string]int{},
		rateReset: time.Minute,
	}
	s.framing.Store(int32(opts.Framing))
	s.Reset()
	for name, b := range builtinBots() {
		s.bots[name] = b
	}
	return s
}

// SetBot adds or replaces a bot; safe while serving.
func (s *Server) SetBot(name string, b Bot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bots[name] = b
}

// SetFraming changes the line separator for streams that start afterwards.
func (s *Server) SetFraming(f Framing) { s.framing.Store(int32(f)) }

// Framing returns the current line separator.
func (s *Server) Framing() Framing { return Framing(s.framing.Load()) }

// SetUnknownBotStatus chooses how an unknown bot is answered: 0 (default)
// like Poe, with an in-band error event and no done; otherwise HTTP code
// with an OpenAI-style model_not_found JSON error.
func (s *Server) SetUnknownBotStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unknownStatus = code
}

// Close ends every open stream (Sleep, Wait and Hang return at once, as if
// the client had gone away) so that an http.Server or httptest.Server can
// shut down. The fake still answers afterwards, but blocking steps no
// longer block.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// ServeHTTP routes by path suffix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/file_upload_3RD_PARTY_POST"):
		s.handleUpload(w, r, strings.TrimSuffix(p, "/file_upload_3RD_PARTY_POST"))
	case strings.HasSuffix(p, "/usage/current_balance"):
		s.handleBalance(w, r)
	case strings.HasSuffix(p, "/v1/models"):
		s.handleModels(w, r)
	default:
		if i := strings.LastIndex(p, "/bot/"); i >= 0 {
			if name := p[i+len("/bot/"):]; name != "" && !strings.Contains(name, "/") {
				s.handleBot(w, r, name)
				return
			}
		}
		if i := strings.LastIndex(p, "/files/"); i >= 0 {
			s.handleFile(w, r, p[i+len("/files/"):])
			return
		}
		s.violate("%s %s: unknown route", r.Method, p)
		writeError(w, http.StatusNotFound, "Not found: "+p, typeInvalidReq, "")
	}
}

// queryShape holds the keys that must be present in a query body; a
// pydantic server rejects a body without them.
type queryShape struct {
	Version        *string `json:"version"`
	Type           *string `json:"type"`
	UserID         *string `json:"user_id"`
	ConversationID *string `json:"conversation_id"`
	MessageID      *string `json:"message_id"`
	Query          []struct {
		Role    *string `json:"role"`
		Content *string `json:"content"`
	} `json:"query"`
}

// otherTypes are the non-query request types fastapi_poe can POST to a bot
// URL (report_error among them). A proxy should not send them.
var otherTypes = map[string]bool{"settings": true, "report_feedback": true, "report_reaction": true, "report_error": true}

// checkQuery validates a parsed body. It returns the violations found and,
// if the request must be refused with 400, the error message.
func checkQuery(body []byte, q *poeclient.QueryRequest) (problems []string, badRequest string) {
	var shape queryShape
	_ = json.Unmarshal(body, &shape) // body already parsed once, cannot fail
	for _, k := range []struct {
		name string
		v    *string
	}{{"version", shape.Version}, {"type", shape.Type}, {"user_id", shape.UserID}, {"conversation_id", shape.ConversationID}, {"message_id", shape.MessageID}} {
		if k.v == nil {
			problems = append(problems, fmt.Sprintf("required key %q missing", k.name))
		}
	}
	if q.Version == "" {
		problems = append(problems, "version is empty")
		badRequest = "Invalid 'version': must be a non-empty string"
	}
	if q.Type != "query" && !otherTypes[q.Type] {
		problems = append(problems, fmt.Sprintf("type is %q, want \"query\"", q.Type))
		badRequest = fmt.Sprintf("Invalid 'type': %q", q.Type)
	}
	if q.Type == "query" && len(q.Query) == 0 {
		problems = append(problems, "query is empty")
		badRequest = "Invalid 'query': must contain at least one message"
	}
	for i, m := range q.Query {
		if i < len(shape.Query) && shape.Query[i].Content == nil {
			problems = append(problems, fmt.Sprintf("query[%d].content missing", i))
		}
		switch m.Role {
		case poeclient.RoleSystem, poeclient.RoleUser, poeclient.RoleBot, poeclient.RoleTool:
		default:
			problems = append(problems, fmt.Sprintf("query[%d].role is %q", i, m.Role))
			badRequest = fmt.Sprintf("Invalid 'role' in query[%d]: %q is not one of system, user, bot, tool", i, m.Role)
		}
	}
	return problems, badRequest
}

func (s *Server) handleBot(w http.ResponseWriter, r *http.Request, name string) {
	if s.opts.Lean {
		s.handleBotLean(w, r, name)
		return
	}
	now := time.Now()
	where := "bot/" + name
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	auth := r.Header.Get("Authorization")
	token, authOK := bearer(auth)

	var q poeclient.QueryRequest
	var problems []string
	var badRequest string
	badStatus := http.StatusBadRequest
	switch {
	case r.Method != http.MethodPost:
		problems = append(problems, "method "+r.Method+", want POST")
	case readErr != nil:
		problems = append(problems, "reading body: "+readErr.Error())
		badRequest = "Could not read body: " + readErr.Error()
		var tooBig *http.MaxBytesError
		if errors.As(readErr, &tooBig) {
			badStatus = http.StatusRequestEntityTooLarge
		}
	default:
		if err := json.Unmarshal(body, &q); err != nil {
			problems = append(problems, "invalid JSON body: "+err.Error())
			badRequest = "Invalid JSON body: " + err.Error()
		} else {
			problems, badRequest = checkQuery(body, &q)
		}
	}
	if auth == "" {
		problems = append(problems, "no Authorization header")
	} else if !authOK {
		problems = append(problems, "Authorization is not \"Bearer <key>\"")
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		problems = append(problems, fmt.Sprintf("Accept is %q, want text/event-stream", r.Header.Get("Accept")))
	}

	s.mu.Lock()
	s.attempts[name]++
	req := Request{Bot: name, Token: token, Header: r.Header.Clone(), Body: body, Query: q, Received: now, Attempt: s.attempts[name]}
	s.records = append(s.records, req)
	if n := s.opts.MaxRecords; n > 0 && len(s.records) >= 2*n {
		// Trim in batches so that the cost per request stays constant.
		kept := copy(s.records, s.records[len(s.records)-n:])
		clear(s.records[kept:]) // drop references to old bodies
		s.records = s.records[:kept]
	}
	s.starts[token] = append(s.starts[token], now)
	for _, p := range problems {
		s.violateLocked("%s: %s", where, p)
	}
	behavior := s.tokens[token]
	if !authOK {
		behavior = TokenInvalid
	}
	var script Script
	switch {
	case r.Method != http.MethodPost:
	case behavior == TokenInvalid, badRequest != "", q.Type != "query":
	case behavior == TokenRateLimited || !s.admitLocked(token, now):
		script = Script{rateLimitStep(s.rateReset)}
	case behavior == TokenNoPoints:
		script = noPointsScript
	}
	bot := s.lookupLocked(name)
	unknownStatus := s.unknownStatus
	s.mu.Unlock()

	switch {
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", typeInvalidReq, "")
		return
	case behavior == TokenInvalid:
		writeInvalidKey(w)
		return
	case badRequest != "":
		writeError(w, badStatus, badRequest, typeInvalidReq, "")
		return
	case q.Type != "query":
		// settings/report_* requests: fastapi_poe's server answers them
		// with JSON; the violation was recorded above.
		s.violate("%s: unexpected request type %q", where, q.Type)
		writeJSON(w, http.StatusOK, "{}")
		return
	case script != nil:
	case bot == nil && unknownStatus != 0:
		writeError(w, unknownStatus, "Bot "+name+" does not exist", typeInvalidReq, "model_not_found")
		return
	case bot == nil:
		script = Script{Error(false, "Bot does not exist: "+name, "")}
	default:
		script = bot(&req)
	}
	if msg := s.play(w, r, script); msg != "" {
		s.violate("%s: script error: %s", where, msg)
	}
}

// handleBotLean answers like handleBot, without validating or recording.
func (s *Server) handleBotLean(w http.ResponseWriter, r *http.Request, name string) {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	token, authOK := bearer(r.Header.Get("Authorization"))
	s.mu.Lock()
	behavior := s.tokens[token]
	if !authOK {
		behavior = TokenInvalid
	}
	bot := s.lookupLocked(name)
	reset := s.rateReset
	s.mu.Unlock()
	var script Script
	switch {
	case behavior == TokenInvalid:
		writeInvalidKey(w)
		return
	case behavior == TokenRateLimited:
		script = Script{rateLimitStep(reset)}
	case behavior == TokenNoPoints:
		script = noPointsScript
	case bot == nil:
		script = Script{Error(false, "Bot does not exist: "+name, "")}
	default:
		script = bot(&Request{Bot: name, Token: token, Body: body})
	}
	s.play(w, r, script)
}
