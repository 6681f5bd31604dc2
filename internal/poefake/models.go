package poefake

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
)

// SetModels overrides the ids listed by /v1/models, in this order; nil goes
// back to listing every registered bot.
func (s *Server) SetModels(ids []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = slices.Clone(ids)
}

// ModelListHits counts the /v1/models requests since New or Reset.
func (s *Server) ModelListHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modelHits
}

type model struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Description string `json:"description"`
}

// modelCreated is a fixed, per-bot creation time in milliseconds (Poe's
// /v1/models uses milliseconds), derived from the name so it never changes.
func modelCreated(id string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	const base = 1_700_000_000_000 // 2023-11-14
	return base + int64(h.Sum32()%31_536_000)*1000
}

// handleModels lists the models; like Poe's, it needs no authentication.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.violate("v1/models: method %s, want GET", r.Method)
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", typeInvalidReq, "")
		return
	}
	s.mu.Lock()
	s.modelHits++
	ids := slices.Clone(s.models)
	if ids == nil {
		for name := range s.bots {
			ids = append(ids, name)
		}
		slices.Sort(ids)
	}
	s.mu.Unlock()

	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: make([]model, 0, len(ids))}
	for _, id := range ids {
		desc, ok := descriptions[id]
		if !ok {
			desc = "Fake bot " + id
		}
		list.Data = append(list.Data, model{ID: id, Object: "model", Created: modelCreated(id), OwnedBy: "poe", Description: desc})
	}
	body, _ := json.Marshal(list)
	writeJSON(w, http.StatusOK, string(body))
}

// handleBalance answers /usage/current_balance (vector V13).
func (s *Server) handleBalance(w http.ResponseWriter, r *http.Request) {
	const where = "usage/current_balance"
	if r.Method != http.MethodGet {
		s.violate("%s: method %s, want GET", where, r.Method)
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", typeInvalidReq, "")
		return
	}
	auth := r.Header.Get("Authorization")
	token, ok := bearer(auth)
	s.mu.Lock()
	if !ok {
		if auth == "" {
			s.violateLocked("%s: no Authorization header", where)
		} else {
			s.violateLocked("%s: Authorization is not \"Bearer <key>\"", where)
		}
	}
	behavior := s.tokens[token]
	points, set := s.balances[token]
	if ok {
		s.balanceReads[token]++
	}
	s.mu.Unlock()
	if !ok || behavior == TokenInvalid {
		writeError(w, http.StatusUnauthorized, msgInvalidKey, "authentication_error", codeInvalidKey)
		return
	}
	if !set {
		points = defaultBalance
		if behavior == TokenNoPoints {
			points = 0
		}
	}
	writeJSON(w, http.StatusOK, `{"current_point_balance": `+strconv.Itoa(points)+`}`)
}
