package responses

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// Remote is a key -> bytes store with expiry that every instance shares
// (the Redis of `redis`). An error means it did not answer: the front end
// then uses its own memory, so a Redis outage never fails a request.
type Remote interface {
	Lookup(key string) (v []byte, found bool, err error)
	Put(key string, v []byte, ttl time.Duration) error
	Delete(key string) (found bool, err error)
}

// MaxRemoteEntry bounds one stored response in Redis, encoded. A larger
// one (a conversation full of images) stays in the memory of the instance
// that answered it. Redis's memory as a whole is the operator's to bound
// (maxmemory): entries expire after the store's lifetime, but
// responses_store bounds only each instance's memory.
const MaxRemoteEntry = 8 << 20

// remoteStore keeps responses in Remote so that a follow-up request
// finds its predecessor whichever instance answered it. What Remote could
// not take (an outage, an entry over the cap) goes to local, and lookups
// that miss in Remote ask local too.
type remoteStore struct {
	remote Remote
	local  *store
	max    int
}

func newRemoteStore(r Remote, local *store) *remoteStore {
	return &remoteStore{remote: r, local: local, max: int(min(local.max, MaxRemoteEntry))}
}

func (s *remoteStore) enabled() bool { return s.local.enabled() }

// remoteKey scopes an entry to its client by a hash, so that one client
// never reads another's and no client key or name reaches Redis.
func remoteKey(client, id string) string {
	sum := sha256.Sum256([]byte(client))
	return hex.EncodeToString(sum[:16]) + ":" + id
}

func (s *remoteStore) put(client, id string, msgs []conv.Message, body []byte) {
	if !s.enabled() {
		return
	}
	if v, err := encodeRecord(msgs, body); err == nil && len(v) <= s.max {
		if s.remote.Put(remoteKey(client, id), v, s.local.ttl) == nil {
			return
		}
	}
	s.local.put(client, id, msgs, body)
}

// lookup returns the entry from Remote; a failure or an unreadable entry
// is a miss there.
func (s *remoteStore) lookup(client, id string) (msgs []conv.Message, body []byte, ok bool) {
	v, found, err := s.remote.Lookup(remoteKey(client, id))
	if err != nil || !found {
		return nil, nil, false
	}
	msgs, body, err = decodeRecord(v)
	return msgs, body, err == nil
}

func (s *remoteStore) conversation(client, id string) ([]conv.Message, bool) {
	if msgs, _, ok := s.lookup(client, id); ok {
		return msgs, true
	}
	return s.local.conversation(client, id)
}

func (s *remoteStore) body(client, id string) ([]byte, bool) {
	if _, body, ok := s.lookup(client, id); ok {
		return body, true
	}
	return s.local.body(client, id)
}

func (s *remoteStore) remove(client, id string) bool {
	found, err := s.remote.Delete(remoteKey(client, id))
	local := s.local.remove(client, id)
	return local || err == nil && found
}

// A record is the response object's bytes, kept as they were sent (a JSON
// envelope would re-escape them), after their length, then the
// conversation as JSON.
func encodeRecord(msgs []conv.Message, body []byte) ([]byte, error) {
	out := binary.AppendUvarint(make([]byte, 0, len(body)+256), uint64(len(body)))
	out = append(out, body...)
	w := bytes.NewBuffer(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	rec := make([]storedMessage, len(msgs))
	for i, m := range msgs {
		rec[i].Message = m
		for _, c := range m.ToolCalls {
			rec[i].ToolCalls = append(rec[i].ToolCalls, storedCall(c))
		}
	}
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

var errRecord = errors.New("responses: malformed stored record")

func decodeRecord(v []byte) ([]conv.Message, []byte, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)-k) {
		return nil, nil, errRecord
	}
	body := v[k : k+int(n)]
	var rec []storedMessage
	if err := json.Unmarshal(v[k+int(n):], &rec); err != nil {
		return nil, nil, errRecord
	}
	msgs := make([]conv.Message, len(rec))
	for i, m := range rec {
		msgs[i] = m.Message
		msgs[i].ToolCalls = nil
		for _, c := range m.ToolCalls {
			msgs[i].ToolCalls = append(msgs[i].ToolCalls, conv.ToolCall(c))
		}
	}
	return msgs, body, nil
}

// storedMessage is a conv.Message as JSON. Its ToolCalls shadows the
// message's, whose JSON form leaves out the name and the arguments.
type storedMessage struct {
	conv.Message
	ToolCalls []storedCall `json:",omitempty"`
}

type storedCall struct{ ID, Type, Name, Arguments string }
