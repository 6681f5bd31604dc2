package poefake

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

func TestRecording(t *testing.T) {
	fake, ts := newFake(t, Options{})
	body := userQuery("Hello world")
	before := time.Now()
	postBot(t, ts, "V3", "test-key", body)
	postBot(t, ts, "V1", "other", body)
	postBot(t, ts, "V3", "test-key", body)

	rs := fake.Requests()
	if len(rs) != 3 {
		t.Fatalf("%d records", len(rs))
	}
	r := rs[2]
	if r.Bot != "V3" || r.Token != "test-key" || r.Attempt != 2 || rs[0].Attempt != 1 || rs[1].Attempt != 1 ||
		!bytes.Equal(r.Body, body) || r.Query.Query[0].Content != "Hello world" || r.Query.Version != "1.2" ||
		r.Header.Get("Accept") != "text/event-stream" || r.Received.Before(before) {
		t.Errorf("record %+v", r)
	}
	if got := fake.RequestsFor("V3"); len(got) != 2 || got[0].Attempt != 1 {
		t.Errorf("RequestsFor %+v", got)
	}
	if st := fake.Starts("test-key"); len(st) != 2 || !st[0].Equal(rs[0].Received) {
		t.Errorf("Starts %v", st)
	}
	if v := fake.Violations(); len(v) != 0 {
		t.Errorf("violations %v", v)
	}
	// Mutating a copy does not touch the record.
	rs[0].Bot = "changed"
	if fake.Requests()[0].Bot != "V3" {
		t.Error("Requests is not a copy")
	}

	fake.Reset()
	if len(fake.Requests()) != 0 || len(fake.Starts("test-key")) != 0 {
		t.Error("Reset kept records")
	}
	postBot(t, ts, "V3", "test-key", body)
	if a := fake.Requests()[0].Attempt; a != 1 {
		t.Errorf("attempt after reset %d", a)
	}
}

func TestMaxRecords(t *testing.T) {
	fake, ts := newFake(t, Options{MaxRecords: 2})
	for i := range 7 { // past 2*MaxRecords, so the store is trimmed too
		postBot(t, ts, "Echo", "k", userQuery(fmt.Sprint(i)))
	}
	rs := fake.Requests()
	if len(rs) != 2 || rs[0].Query.Query[0].Content != "5" || rs[1].Attempt != 7 || len(fake.Starts("k")) != 7 {
		t.Errorf("records %+v", rs)
	}
	if got := fake.RequestsFor("Echo"); len(got) != 2 || got[1].Query.Query[0].Content != "6" {
		t.Errorf("RequestsFor %+v", got)
	}
}

func TestViolations(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		mutate    func(*http.Request)
		status    int
		violation string
	}{
		{"assistant role", `{"version":"1.2","type":"query","query":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"user_id":"","conversation_id":"","message_id":""}`,
			nil, 400, `query[1].role is "assistant"`},
		{"bad json", `{"version":`, nil, 400, "invalid JSON body"},
		{"no version", `{"type":"query","query":[{"role":"user","content":"a"}],"user_id":"","conversation_id":"","message_id":""}`,
			nil, 400, "version is empty"},
		{"wrong type", `{"version":"1.2","type":"nonsense","query":[{"role":"user","content":"a"}],"user_id":"","conversation_id":"","message_id":""}`,
			nil, 400, `type is "nonsense"`},
		{"empty query", `{"version":"1.2","type":"query","query":[],"user_id":"","conversation_id":"","message_id":""}`,
			nil, 400, "query is empty"},
		{"report_error", `{"version":"1.2","type":"report_error","message":"x","user_id":"","conversation_id":"","message_id":""}`,
			nil, 200, `unexpected request type "report_error"`},
		{"missing ids", `{"version":"1.2","type":"query","query":[{"role":"user","content":"a"}]}`,
			nil, 200, `required key "user_id" missing`},
		{"missing content", `{"version":"1.2","type":"query","query":[{"role":"user"}],"user_id":"","conversation_id":"","message_id":""}`,
			nil, 200, "query[0].content missing"},
		{"accept json", string(userQuery("a")), func(r *http.Request) { r.Header.Set("Accept", "application/json") },
			200, `Accept is "application/json"`},
		{"GET", "", func(r *http.Request) { r.Method = http.MethodGet }, 405, "method GET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, ts := newFake(t, Options{})
			req := newBotRequest(t.Context(), t, ts.URL+"/bot/V1", "k", []byte(tc.body))
			if tc.mutate != nil {
				tc.mutate(req)
			}
			resp, body := doRead(t, req)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, body %s", resp.StatusCode, body)
			}
			v := fake.Violations()
			if len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tc.violation) {
				t.Errorf("violations %q, want %q", v, tc.violation)
			}
			if len(fake.Requests()) != 1 {
				t.Errorf("not recorded")
			}
			if tc.name == "assistant role" && !strings.HasPrefix(body, `{"error":{"message":"Invalid 'role'`) {
				t.Errorf("body %s", body)
			}
		})
	}
	// Every role Poe knows passes.
	fake, ts := newFake(t, Options{})
	resp, _ := postBot(t, ts, "V1", "k", queryOf(poeclient.NewMessage("system", "s"), poeclient.NewMessage("user", "u"),
		poeclient.NewMessage("bot", "b"), poeclient.NewMessage("tool", "t")))
	if resp.StatusCode != 200 || len(fake.Violations()) != 0 {
		t.Errorf("%d %v", resp.StatusCode, fake.Violations())
	}
	// Unknown routes are violations.
	resp, _ = doRead(t, must(http.NewRequest(http.MethodGet, ts.URL+"/nothing/here", nil)))
	if resp.StatusCode != 404 || len(fake.Violations()) != 1 {
		t.Errorf("unknown route: %d %v", resp.StatusCode, fake.Violations())
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMaxInWindowAndMinGap(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	cases := []struct {
		times  []time.Time
		window time.Duration
		want   int
	}{
		{nil, time.Second, 0},
		{at(0), time.Second, 1},
		{at(0), 0, 0},
		{at(0, 1000), time.Second, 1}, // end is exclusive
		{at(0, 1000), time.Second + time.Nanosecond, 2},
		{at(0, 0, 0), time.Nanosecond, 3}, // start is inclusive
		{at(2500, 0, 900, 1000, 1900, 3000), time.Second, 2},
		{at(2500, 900, 0, 950, 1900), time.Second, 3}, // unsorted: 0, 900, 950
		{at(0, 10, 20, 5000, 5001), 100 * time.Millisecond, 3},
	}
	for i, tc := range cases {
		orig := slices.Clone(tc.times)
		if got := MaxInWindow(tc.times, tc.window); got != tc.want {
			t.Errorf("case %d: MaxInWindow = %d, want %d", i, got, tc.want)
		}
		if !slices.Equal(orig, tc.times) {
			t.Errorf("case %d: input modified", i)
		}
	}

	gaps := []struct {
		times []time.Time
		want  time.Duration
	}{
		{nil, 0},
		{at(5), 0},
		{at(0, 1000), time.Second},
		{at(3000, 0, 1000, 2500), 500 * time.Millisecond},
		{at(7, 7), 0},
	}
	for i, tc := range gaps {
		if got := MinGap(tc.times); got != tc.want {
			t.Errorf("case %d: MinGap = %v, want %v", i, got, tc.want)
		}
	}
}

// TestConcurrentUse exercises the locks under -race: streams, SetBot,
// SetFraming and the record readers all at once.
func TestConcurrentUse(t *testing.T) {
	fake, ts := newFake(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 16 {
		wg.Go(func() {
			for i := range 5 {
				bot := []string{"Chunks-20x8", "Echo", "V2"}[(g+i)%3]
				_, raw := postBot(t, ts, bot, fmt.Sprint("k", g), userQuery("concurrent"))
				a := interpret(parseSSE(raw))
				want := map[string]string{"Chunks-20x8": "", "Echo": "concurrent", "V2": "The capital of Nepal is Kathmandu."}[bot]
				if bot == "Chunks-20x8" {
					for j := range 20 {
						want += ChunkText(j, 8)
					}
				}
				if a.text != want || !a.done {
					errs <- fmt.Sprintf("%s: %+v", bot, a)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			fake.SetBot(fmt.Sprint("X", i), func(*Request) Script { return nil })
			fake.SetFraming(Framing(i % 3))
			_ = fake.Requests()
			_ = fake.Violations()
		}
	})
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(fake.Requests()); n != 80 {
		t.Errorf("%d records", n)
	}
}
