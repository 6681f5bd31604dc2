package poefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Bot decides its answer from the request it received. It runs outside any
// lock of the Server, once per request, and may return a shared Script:
// scripts are only read.
type Bot func(req *Request) Script

// Script is what a bot sends, step by step. A script that ends without Done
// simply closes the response (vector V9: EOF without done).
type Script []Step

type stepKind uint8

const (
	kindEvent stepKind = iota
	kindPing
	kindRaw
	kindSleep
	kindWait
	kindHang
	kindStatus
)

// Step is one action of a Script. Build it with the constructors below; the
// event data is encoded once, when the step is built, so replaying a shared
// script costs no encoding.
type Step struct {
	kind   stepKind
	event  string // event name
	data   string // event data, raw bytes or status body
	d      time.Duration
	ch     <-chan struct{}
	code   int
	header http.Header
}

// Text sends event text, data {"text": s}.
func Text(s string) Step { return Event("text", pyDumps(pyKV{"text", s})) }

// Replace sends event replace_response, which discards all previous text.
func Replace(s string) Step { return Event("replace_response", pyDumps(pyKV{"text", s})) }

// SuggestedReply sends event suggested_reply.
func SuggestedReply(s string) Step { return Event("suggested_reply", pyDumps(pyKV{"text", s})) }

var metaData = pyDumps(
	pyKV{"content_type", "text/markdown"},
	pyKV{"refetch_settings", false},
	pyKV{"linkify", true},
	pyKV{"suggested_replies", false},
)

// Meta sends the meta event fastapi_poe's server emits first.
func Meta() Step { return Event("meta", metaData) }

// JSON sends event json. A string, []byte or json.RawMessage is written raw;
// anything else is marshalled compactly (like the OpenAI chunks in V6/V7).
// It panics if v cannot be marshalled: that is a bug in the test.
func JSON(v any) Step {
	switch x := v.(type) {
	case string:
		return Event("json", x)
	case []byte:
		return Event("json", string(x))
	case json.RawMessage:
		return Event("json", string(x))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("poefake: JSON(%T): %v", v, err))
	}
	return Event("json", string(bytes.TrimRight(b.Bytes(), "\n")))
}

// File sends event file; inlineRef "" is sent as null.
func File(url, contentType, name, inlineRef string) Step {
	var ref any
	if inlineRef != "" {
		ref = inlineRef
	}
	return Event("file", pyDumps(
		pyKV{"url", url},
		pyKV{"content_type", contentType},
		pyKV{"name", name},
		pyKV{"inline_ref", ref},
	))
}

// Error sends event error; errorType "" leaves the key out.
func Error(allowRetry bool, text, errorType string) Step {
	kvs := []pyKV{{"allow_retry", allowRetry}, {"text", text}}
	if errorType != "" {
		kvs = append(kvs, pyKV{"error_type", errorType})
	}
	return Event("error", pyDumps(kvs...))
}

// ErrorRaw sends event error with exactly this data.
func ErrorRaw(data string) Step { return Event("error", data) }

// Done sends event done, data {}.
func Done() Step { return Event("done", "{}") }

// Event sends any event with raw data; data containing line breaks is split
// over several data: lines.
func Event(name, data string) Step { return Step{kind: kindEvent, event: name, data: data} }

// Ping sends the comment ": ping - <utc time>" and a blank line.
func Ping() Step { return Step{kind: kindPing} }

// Raw writes b as is.
func Raw(b string) Step { return Step{kind: kindRaw, data: b} }

// Sleep pauses; it ends early (and ends the script) if the client goes away.
func Sleep(d time.Duration) Step { return Step{kind: kindSleep, d: d} }

// Wait blocks until ch is closed; it ends the script if the client goes away.
func Wait(ch <-chan struct{}) Step { return Step{kind: kindWait, ch: ch} }

// Hang sends nothing more and keeps the connection open until the client
// goes away (or Server.Close).
func Hang() Step { return Step{kind: kindHang} }

// Status answers with a non-SSE HTTP response. It is only valid as the first
// step; later steps still run and write into the body, so Status with a
// text/event-stream header followed by events gives a stream with custom
// headers. Without a Content-Type, a body starting with '{' is sent as
// application/json, any other as text/plain.
func Status(code int, header http.Header, body string) Step {
	return Step{kind: kindStatus, code: code, header: header.Clone(), data: body}
}

// Bytes renders the wire bytes of the script's events, pings and raw steps
// with framing f (Sleep, Wait, Hang and Status are skipped). Handy for
// feeding an SSE parser without HTTP.
func (sc Script) Bytes(f Framing) []byte {
	var b []byte
	for _, st := range sc {
		switch st.kind {
		case kindEvent:
			b = appendEvent(b, f.sep(), st.event, st.data)
		case kindPing:
			b = appendPing(b, f.sep(), time.Now())
		case kindRaw:
			b = append(b, st.data...)
		}
	}
	return b
}
