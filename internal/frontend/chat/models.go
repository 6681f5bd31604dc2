package chat

import (
	"encoding/json"
	"net/http"

	"github.com/poe-openai/caddy-poe-openai/internal/models"
)

// WriteModels answers /models, or /models/{id} when one is set, in
// OpenAI's shape.
func WriteModels(w http.ResponseWriter, r *http.Request, list []models.Model, one bool) {
	data := make([]Model, len(list))
	for i, m := range list {
		data[i] = Model{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: m.OwnedBy}
	}
	var v any = ModelList{Object: "list", Data: data}
	if one {
		v = data[0]
	}
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
}
