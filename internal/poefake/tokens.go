package poefake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TokenBehavior is how the fake treats requests made with one API key.
type TokenBehavior int

const (
	TokenOK          TokenBehavior = iota
	TokenInvalid                   // HTTP 401 (vector V11)
	TokenNoPoints                  // in-band insufficient_fund error, then done (vector V4)
	TokenRateLimited               // HTTP 429 with Retry-After
)

const (
	rateLimitWindow  = time.Minute
	defaultBalance   = 1000
	msgInvalidKey    = "Invalid API key provided"
	msgRateLimited   = "You have exceeded rate limit to query bot using User API Key. Try again later."
	msgNotEnoughPts  = "You do not have enough points to message this bot."
	typeInvalidReq   = "invalid_request_error"
	typeRateLimit    = "rate_limit_error"
	codeInvalidKey   = "invalid_api_key"
	codeRateExceeded = "rate_limit_exceeded"
)

var noPointsScript = Script{Error(false, msgNotEnoughPts, "insufficient_fund"), Done()}

// SetToken sets the behaviour for requests made with token.
func (s *Server) SetToken(token string, b TokenBehavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == TokenOK {
		delete(s.tokens, token)
		return
	}
	s.tokens[token] = b
}

// SetRateLimitReset sets the reset reported by 429 answers (default 60s).
func (s *Server) SetRateLimitReset(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateReset = d
}

// SetTokenRateLimit limits each token to perMinute admitted /bot/ requests
// in any 60 s; 0 turns the limit off (the default). Requests answered 429
// do not count, so a client that backs off gets through again.
func (s *Server) SetTokenRateLimit(perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMinute = perMinute
}

// SetBalance sets the points reported by /usage/current_balance for token.
func (s *Server) SetBalance(token string, points int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.balances[token] = points
}

// BalanceReads returns how many times /usage/current_balance was asked
// about token (since New or Reset).
func (s *Server) BalanceReads(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.balanceReads[token]
}

// admitLocked applies the per-token limit at time now. The caller holds s.mu.
func (s *Server) admitLocked(token string, now time.Time) bool {
	if s.perMinute <= 0 {
		return true
	}
	recent := s.admitted[token]
	cut := 0
	for cut < len(recent) && !recent[cut].After(now.Add(-rateLimitWindow)) {
		cut++
	}
	recent = recent[cut:]
	if len(recent) >= s.perMinute {
		s.admitted[token] = recent
		return false
	}
	s.admitted[token] = append(recent, now)
	return true
}

// bearer splits an Authorization header into its key.
func bearer(auth string) (token string, ok bool) {
	if t, found := strings.CutPrefix(auth, "Bearer "); found {
		return t, t != ""
	}
	return auth, false
}

// TokenFingerprint identifies a key in logs without revealing it: the first
// 8 hex digits of its SHA-256.
func TokenFingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

// apiError is the OpenAI-style error body that /v1 documents.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
}

func errorBody(message, typ, code string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(apiError{apiErrorBody{message, typ, code}})
	return strings.TrimRight(b.String(), "\n")
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func writeError(w http.ResponseWriter, code int, message, typ, errCode string) {
	writeJSON(w, code, errorBody(message, typ, errCode))
}

func writeInvalidKey(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, msgInvalidKey, typeInvalidReq, codeInvalidKey)
}

// rateLimitStep is the 429 answer, with the reset in whole seconds.
func rateLimitStep(reset time.Duration) Step {
	secs := strconv.Itoa(int(math.Ceil(reset.Seconds())))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", secs)
	h.Set("X-Ratelimit-Reset-Requests", secs)
	return Status(http.StatusTooManyRequests, h, errorBody(msgRateLimited, typeRateLimit, codeRateExceeded))
}
