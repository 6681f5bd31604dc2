package responses

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/redistest"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenpool"
)

// instanceStore is one instance's store: its own connection to the shared
// Redis and its own memory, as two Caddy processes would have.
func instanceStore(t *testing.T, srv *redistest.Server, storeBytes int64) *remoteStore {
	t.Helper()
	r, err := tokenpool.NewRedis(tokenpool.RedisOptions{URL: srv.URL(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Destruct() })
	if !r.Up() {
		t.Fatal("redis is not up")
	}
	fe := New(Options{StoreBytes: storeBytes, StoreTTL: time.Hour, Remote: tokenpool.NewSharedCache(r, "responses")})
	return fe.store.(*remoteStore)
}

func redisKeys(t *testing.T, srv *redistest.Server) []string {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(srv.URL(), "/0"), "redis://"), Protocol: 2})
	defer rc.Close()
	keys, err := rc.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// A conversation with every shape the store must give back unchanged:
// null and empty content, tool calls with names and arguments, a tool
// result, text that JSON would HTML-escape.
var storedConversation = []conv.Message{
	{Role: conv.RoleUser, Text: true, Param: storedParam, Content: []conv.Part{{Type: conv.PartText, Text: "a <b> & c", Param: storedParam}}},
	{Role: conv.RoleAssistant, Param: storedParam, IDParam: storedParam,
		ToolCalls: []conv.ToolCall{{ID: "call_1", Type: "function", Name: "shell", Arguments: `{"cmd":"ls > x"}`}}},
	{Role: conv.RoleTool, ToolCallID: "call_1", Param: storedParam, IDParam: storedParam, Content: []conv.Part{}},
	{Role: conv.RoleAssistant, Text: true, Content: []conv.Part{{Type: conv.PartText, Text: "done"}}},
}

func TestRedisStoreSharedAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	a, b := instanceStore(t, srv, 1<<20), instanceStore(t, srv, 1<<20)
	body := []byte(`{"id":"resp_1","output_text":"a <b> & c"}`)
	a.put("alice", "resp_1", storedConversation, body)

	if got, ok := b.body("alice", "resp_1"); !ok || string(got) != string(body) {
		t.Fatalf("instance b reads %q, %v; want the bytes a stored", got, ok)
	}
	if got, ok := b.conversation("alice", "resp_1"); !ok || !reflect.DeepEqual(got, storedConversation) {
		t.Fatalf("instance b's conversation:\n%+v\nwant\n%+v", got, storedConversation)
	}
	if _, ok := b.body("bob", "resp_1"); ok {
		t.Fatal("bob reads alice's response")
	}
	if _, ok := b.conversation("bob", "resp_1"); ok {
		t.Fatal("bob continues alice's conversation")
	}

	// One key, under the module's prefix, naming the client by a hash
	// only, living the store's lifetime.
	keys := redisKeys(t, srv)
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "poe_openai:responses:") || strings.Contains(keys[0], "alice") ||
		!strings.HasSuffix(keys[0], ":resp_1") {
		t.Fatalf("keys %q", keys)
	}
	rc := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(srv.URL(), "/0"), "redis://"), Protocol: 2})
	defer rc.Close()
	if ttl := rc.TTL(context.Background(), keys[0]).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("ttl %v, want about an hour", ttl)
	}

	if b.remove("bob", "resp_1") {
		t.Fatal("bob deletes alice's response")
	}
	if !b.remove("alice", "resp_1") {
		t.Fatal("instance b cannot delete a's response")
	}
	if _, ok := a.body("alice", "resp_1"); ok {
		t.Fatal("deleted on b, still there on a")
	}
	if b.remove("alice", "resp_1") {
		t.Fatal("deleted twice")
	}
}

// An entry over the per-entry cap stays in the memory of the instance
// that answered: never in Redis, still served there.
func TestRedisStoreEntryCap(t *testing.T) {
	srv := redistest.Start(t)
	a, b := instanceStore(t, srv, 1<<20), instanceStore(t, srv, 1<<20)
	if a.max != 1<<20 {
		t.Fatalf("cap %d, want responses_store (under MaxRemoteEntry)", a.max)
	}
	a.max = 200
	big := []conv.Message{{Role: conv.RoleUser, Text: true, Content: []conv.Part{{Type: conv.PartText, Text: strings.Repeat("x", 500)}}}}
	a.put("alice", "resp_big", big, []byte(`{"id":"resp_big"}`))
	if keys := redisKeys(t, srv); len(keys) != 0 {
		t.Fatalf("an entry over the cap went to redis: %q", keys)
	}
	if _, ok := a.conversation("alice", "resp_big"); !ok {
		t.Fatal("the answering instance lost the entry")
	}
	if _, ok := b.body("alice", "resp_big"); ok {
		t.Fatal("another instance sees an entry that never left a")
	}
	if s := newRemoteStore(nil, newStore(1<<40, 0, time.Now)); s.max != MaxRemoteEntry {
		t.Fatalf("cap %d, want MaxRemoteEntry", s.max)
	}
}

// With Redis gone, responses are still stored and served, from the
// instance's own memory.
func TestRedisStoreOutage(t *testing.T) {
	srv := redistest.Start(t)
	a := instanceStore(t, srv, 1<<20)
	srv.Kill()
	a.put("alice", "resp_2", storedConversation, []byte(`{"id":"resp_2"}`))
	if got, ok := a.body("alice", "resp_2"); !ok || string(got) != `{"id":"resp_2"}` {
		t.Fatalf("body %q, %v during the outage", got, ok)
	}
	if _, ok := a.conversation("alice", "resp_2"); !ok {
		t.Fatal("conversation lost during the outage")
	}
	if _, ok := a.body("bob", "resp_2"); ok {
		t.Fatal("bob reads alice's response from the fallback")
	}
	if !a.remove("alice", "resp_2") {
		t.Fatal("cannot delete during the outage")
	}
}

func TestRecordRejectsGarbage(t *testing.T) {
	for _, v := range [][]byte{nil, {0xff}, {5, 'a'}, append([]byte{1, 'x'}, "not json"...)} {
		if _, _, err := decodeRecord(v); err == nil {
			t.Errorf("%q decoded", v)
		}
	}
}

// storeChecker records, at the write that ends the answer, whether the
// response was already stored: with Redis a client's next request may
// reach another instance as soon as it has read the end.
type storeChecker struct {
	*httptest.ResponseRecorder
	fe          *FrontEnd
	id, end     string
	storedAtEnd bool
	sawEnd      bool
}

func (w *storeChecker) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.end) {
		w.sawEnd = true
		_, w.storedAtEnd = w.fe.store.body("alice", w.id)
	}
	return w.ResponseRecorder.Write(b)
}

func TestStoredBeforeTheEndIsWritten(t *testing.T) {
	for _, stream := range []bool{true, false} {
		fe := New(Options{StoreBytes: 1 << 20, StoreTTL: time.Hour})
		pp, ce := fe.Parse([]byte(`{"model":"m","input":"hi","stream":`+strconv.FormatBool(stream)+`}`), "alice")
		if ce != nil {
			t.Fatal(ce)
		}
		id := pp.(*parsed).id
		w := &storeChecker{ResponseRecorder: httptest.NewRecorder(), fe: fe, id: id, end: `"status":"completed"`}
		out := pp.Output(w, conv.OutputOptions{Start: time.Now()})
		out.Content([]byte("hello"))
		if err := out.Finish(&conv.Result{Content: "hello", Finish: conv.FinishStop, Usage: &conv.Usage{PromptTokens: 1, CompletionTokens: 1}}); err != nil {
			t.Fatal(err)
		}
		out.Close()
		if !w.sawEnd || !w.storedAtEnd {
			t.Errorf("stream %v: end written %v, stored by then %v", stream, w.sawEnd, w.storedAtEnd)
		}
	}
}
