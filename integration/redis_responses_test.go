package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
)

// Stored responses live in the shared Redis: a response answered by one
// instance is continued, read and deleted through another, and stays
// its client's own.
func TestRedisStoredResponses(t *testing.T) {
	red := redistest.Start(t)
	bin := caddyBinary(t)
	fake, fakeURL := fakePoe(t, nil)
	env := []string{"POE_REDIS_URL=" + red.URL()}
	var bases []string
	for range 2 {
		port := freePort()
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
		config := procGlobals(t, "") + fmt.Sprintf(`http://127.0.0.1:%d {
	poe_openai {
		poe_keys tok-stored
		auth_keys alice bob
		base_url %s
		redis {env.POE_REDIS_URL}
		redis_timeout 1s
	}
}
`, port, fakeURL)
		startCaddyProc(t, bin, config, env)
	}
	a, b := bases[0], bases[1]

	// Streamed on A: the response is stored before the stream ends.
	r := httpCall(t, http.MethodPost, a+"/v1/responses", "alice", `{"model":"Echo","input":"first words","stream":true}`)
	if r.status != 200 {
		t.Fatalf("A: %d %s", r.status, r.body)
	}
	first := completedID(t, r.body)

	// Continued on B at once: B's query to Poe carries A's conversation.
	r = httpCall(t, http.MethodPost, b+"/v1/responses", "alice",
		`{"model":"Echo","input":"second words","previous_response_id":"`+first+`"}`)
	if r.status != 200 || !strings.Contains(r.body, "second words") {
		t.Fatalf("B continuing A's response: %d %s", r.status, r.body)
	}
	var second struct{ ID string }
	json.Unmarshal([]byte(r.body), &second)
	reqs := fake.RequestsFor("Echo")
	if last := string(reqs[len(reqs)-1].Body); !strings.Contains(last, "first words") || !strings.Contains(last, "second words") {
		t.Fatalf("B's query lacks A's conversation: %s", last)
	}

	// Read on either instance, by its client only.
	if r := httpCall(t, http.MethodGet, b+"/v1/responses/"+first, "alice", ""); r.status != 200 || !strings.Contains(r.body, `"id":"`+first+`"`) {
		t.Fatalf("GET on B: %d %s", r.status, r.body)
	}
	if r := httpCall(t, http.MethodGet, a+"/v1/responses/"+second.ID, "alice", ""); r.status != 200 || !strings.Contains(r.body, "second words") {
		t.Fatalf("GET on A of B's response: %d %s", r.status, r.body)
	}
	if r := httpCall(t, http.MethodGet, b+"/v1/responses/"+first, "bob", ""); r.status != 404 {
		t.Fatalf("bob reads alice's response: %d %s", r.status, r.body)
	}
	r = httpCall(t, http.MethodPost, a+"/v1/responses", "bob", `{"model":"Echo","input":"x","previous_response_id":"`+first+`"}`)
	if r.status != 404 || !strings.Contains(r.body, "previous_response_id") {
		t.Fatalf("bob continues alice's response: %d %s", r.status, r.body)
	}

	// Deleted on B, gone on A.
	if r := httpCall(t, http.MethodDelete, b+"/v1/responses/"+first, "alice", ""); r.status != 200 || !strings.Contains(r.body, `"deleted":true`) {
		t.Fatalf("DELETE on B: %d %s", r.status, r.body)
	}
	if r := httpCall(t, http.MethodGet, a+"/v1/responses/"+first, "alice", ""); r.status != 404 {
		t.Fatalf("GET on A after DELETE on B: %d %s", r.status, r.body)
	}
}

func httpCall(t *testing.T, method, url, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := redisTestClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		sb.WriteString(sc.Text() + "\n")
	}
	return reply{status: resp.StatusCode, body: sb.String()}
}

// completedID is the response id in a stream's response.completed event.
func completedID(t *testing.T, stream string) string {
	t.Helper()
	for _, line := range strings.Split(stream, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || !strings.Contains(data, `"type":"response.completed"`) {
			continue
		}
		var ev struct{ Response struct{ ID string } }
		if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Response.ID == "" {
			t.Fatalf("response.completed without an id: %s", data)
		}
		return ev.Response.ID
	}
	t.Fatalf("no response.completed in:\n%s", stream)
	return ""
}
