package poeclient

import (
	"encoding/json"
	"io"
	"math"
	"strconv"
	"sync"

	"github.com/poe-openai/caddy-poe-openai/internal/jsonstr"
)

// EncodeQuery writes q as JSON exactly as fastapi_poe serialises it (every
// field, nulls included; <, > and & not escaped), followed by a newline.
//
// It is written by hand rather than with encoding/json because it runs
// before every answer's first byte: it avoids reflection and allocations
// (4 per query). The byte-exact tests against vectors V1 and V6b, and a
// comparison with encoding/json, guard it.
func EncodeQuery(w io.Writer, q *QueryRequest) error {
	bp := encodePool.Get().(*[]byte)
	b, err := appendQuery((*bp)[:0], q)
	if err == nil {
		b = append(b, '\n')
		_, err = w.Write(b)
	}
	*bp = b[:0]
	if cap(b) <= 1<<20 {
		encodePool.Put(bp)
	}
	return err
}

var encodePool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func appendQuery(b []byte, q *QueryRequest) ([]byte, error) {
	var err error
	b = append(b, `{"version":`...)
	b = jsonstr.AppendQuoted(b, q.Version)
	b = append(b, `,"type":`...)
	b = jsonstr.AppendQuoted(b, q.Type)
	b = append(b, `,"query":`...)
	if q.Query == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range q.Query {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendMessage(b, &q.Query[i]); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	b = appendField(b, "user_id", q.UserID)
	b = appendField(b, "conversation_id", q.ConversationID)
	b = appendField(b, "message_id", q.MessageID)
	b = appendField(b, "metadata", q.Metadata)
	b = appendField(b, "api_key", q.APIKey)
	b = appendField(b, "access_key", q.AccessKey)
	b = append(b, `,"temperature":`...)
	if q.Temperature == nil {
		b = append(b, "null"...)
	} else if b, err = appendJSON(b, *q.Temperature); err != nil {
		return b, err
	}
	b = append(b, `,"skip_system_prompt":`...)
	b = strconv.AppendBool(b, q.SkipSystemPrompt)
	b = append(b, `,"logit_bias":`...)
	if b, err = appendJSON(b, q.LogitBias); err != nil {
		return b, err
	}
	b = append(b, `,"stop_sequences":`...)
	b = appendStrings(b, q.StopSequences)
	b = appendField(b, "language_code", q.LanguageCode)
	b = append(b, `,"adopt_current_bot_name":`...)
	if b, err = appendJSON(b, q.AdoptCurrentBotName); err != nil {
		return b, err
	}
	b = appendField(b, "bot_query_id", q.BotQueryID)
	b = append(b, `,"users":`...)
	if b, err = appendList(b, q.Users); err != nil {
		return b, err
	}
	b = append(b, `,"tools":`...)
	if b, err = appendList(b, q.Tools); err != nil {
		return b, err
	}
	b = append(b, `,"tool_calls":`...)
	if b, err = appendList(b, q.ToolCalls); err != nil {
		return b, err
	}
	b = append(b, `,"tool_results":`...)
	if b, err = appendList(b, q.ToolResults); err != nil {
		return b, err
	}
	b = append(b, `,"query_creation_time":`...)
	if b, err = appendJSON(b, q.QueryCreationTime); err != nil {
		return b, err
	}
	b = append(b, `,"extra_params":`...)
	if b, err = appendJSON(b, q.ExtraParams); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendMessage writes one ProtocolMessage; the fields a query from this
// module leaves at their defaults take a fast path.
func appendMessage(b []byte, m *ProtocolMessage) ([]byte, error) {
	var err error
	b = append(b, `{"role":`...)
	b = jsonstr.AppendQuoted(b, m.Role)
	for _, f := range [...]struct {
		name string
		v    any
		null bool
	}{
		{"message_type", m.MessageType, m.MessageType == nil},
		{"sender_id", m.SenderID, m.SenderID == nil},
		{"sender", m.Sender, m.Sender == nil},
	} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		if f.null {
			b = append(b, "null"...)
		} else if b, err = appendJSON(b, f.v); err != nil {
			return b, err
		}
	}
	b = appendField(b, "content", m.Content)
	b = append(b, `,"parameters":`...)
	if b, err = appendJSON(b, m.Parameters); err != nil {
		return b, err
	}
	b = appendField(b, "content_type", m.ContentType)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, m.Timestamp, 10)
	b = appendField(b, "message_id", m.MessageID)
	b = append(b, `,"feedback":`...)
	if b, err = appendList(b, m.Feedback); err != nil {
		return b, err
	}
	b = append(b, `,"attachments":`...)
	if m.Attachments == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range m.Attachments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"url":`...)
			b = jsonstr.AppendQuoted(b, a.URL)
			b = appendField(b, "content_type", a.ContentType)
			b = appendField(b, "name", a.Name)
			b = appendOptional(b, "inline_ref", a.InlineRef)
			b = appendOptional(b, "parsed_content", a.ParsedContent)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendOptional(b, "metadata", m.Metadata)
	b = append(b, `,"referenced_message":`...)
	if m.ReferencedMessage == nil {
		b = append(b, "null"...)
	} else if b, err = appendMessage(b, m.ReferencedMessage); err != nil {
		return b, err
	}
	b = append(b, `,"reactions":`...)
	if b, err = appendList(b, m.Reactions); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return jsonstr.AppendQuoted(b, v)
}

func appendOptional(b []byte, name string, v *string) []byte {
	if v == nil {
		b = append(b, `,"`...)
		b = append(b, name...)
		return append(b, `":null`...)
	}
	return appendField(b, name, *v)
}

// appendJSON handles the rarely set, open-ended fields. Empty maps and
// slices, the common case, are written without encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case map[string]float64:
		if x == nil {
			return append(b, "null"...), nil
		}
		if len(x) == 0 {
			return append(b, "{}"...), nil
		}
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		if len(x) == 0 {
			return append(b, "{}"...), nil
		}
	case float64:
		if abs := math.Abs(x); abs == 0 || abs >= 1e-6 && abs < 1e21 {
			return strconv.AppendFloat(b, x, 'f', -1, 64), nil // as encoding/json formats these
		}
	}
	raw, err := marshalNoEscape(v)
	if err != nil {
		return b, err
	}
	return append(b, raw...), nil
}

// appendList writes a slice: null, [] or, when it has elements, what
// encoding/json makes of them. Generic so that the common empty case
// boxes nothing.
func appendList[T any](b []byte, s []T) ([]byte, error) {
	switch {
	case s == nil:
		return append(b, "null"...), nil
	case len(s) == 0:
		return append(b, "[]"...), nil
	}
	raw, err := marshalNoEscape(s)
	if err != nil {
		return b, err
	}
	return append(b, raw...), nil
}

func appendStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.AppendQuoted(b, v)
	}
	return append(b, ']')
}

// marshalNoEscape is json.Marshal without HTML escaping.
func marshalNoEscape(v any) ([]byte, error) {
	var w bytesWriter
	enc := json.NewEncoder(&w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return w.b[:len(w.b)-1], nil // drop Encode's newline
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
