package messages

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/models"
)

type modelJSON struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type modelListJSON struct {
	Data    []modelJSON `json:"data"`
	HasMore bool        `json:"has_more"`
	FirstID *string     `json:"first_id"`
	LastID  *string     `json:"last_id"`
}

// WriteModels answers /models (one: /models/{id}, list holding that one
// model) in Anthropic's shape: the whole list in one page, has_more false.
func WriteModels(w http.ResponseWriter, r *http.Request, list []models.Model, one bool) {
	data := make([]modelJSON, len(list))
	for i, m := range list {
		data[i] = modelJSON{Type: "model", ID: m.ID, DisplayName: m.ID,
			CreatedAt: time.Unix(m.Created, 0).UTC().Format(time.RFC3339)}
	}
	var v any
	if one && len(data) > 0 {
		v = data[0]
	} else {
		l := modelListJSON{Data: data}
		if len(data) > 0 {
			l.FirstID, l.LastID = &data[0].ID, &data[len(data)-1].ID
		}
		v = l
	}
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", newID("req_"))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}
