package poefake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Lean mode answers with the same bytes and records nothing.
func TestLeanAnswersAlikeAndRecordsNothing(t *testing.T) {
	body := `{"version":"1.2","type":"query","query":[{"role":"user","content":"x"}],"user_id":"","conversation_id":"","message_id":""}`
	get := func(s *Server, bot, token string) (int, string) {
		srv := httptest.NewServer(s)
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/bot/"+bot, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	full, lean := New(Options{}), New(Options{Lean: true})
	for _, s := range []*Server{full, lean} {
		s.SetToken("bad", TokenInvalid)
		s.SetToken("poor", TokenNoPoints)
	}
	for _, c := range []struct{ bot, token string }{{"Chunks-5x16", "k"}, {"V2", "k"}, {"Nope", "k"}, {"V1", "bad"}, {"V1", "poor"}} {
		c1, b1 := get(full, c.bot, c.token)
		c2, b2 := get(lean, c.bot, c.token)
		if c1 != c2 || b1 != b2 {
			t.Errorf("%s/%s: full %d %q, lean %d %q", c.bot, c.token, c1, b1, c2, b2)
		}
	}
	if n := len(lean.Requests()); n != 0 {
		t.Fatalf("lean recorded %d requests", n)
	}
}
