package poeopenai

import (
	"net/http"
	"strings"
)

// cors adds CORS headers for allowed origins and answers preflight
// requests; it reports true when it answered.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(h.CORS) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	allowed := ""
	for _, o := range h.CORS {
		if o == "*" {
			allowed = "*"
			break
		}
		if origin != "" && strings.EqualFold(o, origin) {
			allowed = origin
		}
	}
	if allowed == "" || origin == "" {
		return false
	}
	hdr.Set("Access-Control-Allow-Origin", allowed)
	hdr.Set("Access-Control-Expose-Headers", "Retry-After, Content-Type")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	hdr.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		hdr.Set("Access-Control-Allow-Headers", req)
	} else {
		hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	}
	hdr.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return true
}
