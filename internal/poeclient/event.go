package poeclient

import (
	"encoding/json"
	"fmt"
)

// EventKind is the type of a Poe SSE event.
type EventKind uint8

const (
	EventUnknown EventKind = iota
	EventText
	EventReplace
	EventJSON
	EventFile
	EventSuggestedReply
	EventMeta
	EventPing
	EventData
	EventError
	EventDone
)

// KindOf maps an SSE event name to its kind.
func KindOf(name []byte) EventKind {
	switch string(name) { // no allocation: the compiler special-cases this
	case "text":
		return EventText
	case "replace_response":
		return EventReplace
	case "json":
		return EventJSON
	case "file":
		return EventFile
	case "suggested_reply":
		return EventSuggestedReply
	case "meta":
		return EventMeta
	case "ping":
		return EventPing
	case "data":
		return EventData
	case "error":
		return EventError
	case "done":
		return EventDone
	}
	return EventUnknown
}

func (k EventKind) String() string {
	return [...]string{"unknown", "text", "replace_response", "json", "file",
		"suggested_reply", "meta", "ping", "data", "error", "done"}[k]
}

// Event is one decoded event. Data aliases the decoder's buffer and is
// valid only until the next call to Stream.Next.
type Event struct {
	Kind EventKind
	Data []byte
}

// AppendText appends the "text" field of a text, replace_response or
// suggested_reply payload to dst. A missing or non-string text is a protocol
// error, as in fastapi_poe.
func AppendText(dst, data []byte) ([]byte, error) {
	if out, ok := appendStringField(dst, data, "text"); ok {
		return out, nil
	}
	// Slow path: anything the scanner does not handle, decoded strictly.
	var v struct {
		Text *json.RawMessage `json:"text"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return dst, protocolError("invalid JSON in text event: %v", err)
	}
	if v.Text == nil {
		return dst, protocolError("text event without text")
	}
	var s string
	if err := json.Unmarshal(*v.Text, &s); err != nil {
		return dst, protocolError("text event with non-string text")
	}
	return append(dst, s...), nil
}

// ParseFile decodes a file event.
func ParseFile(data []byte) (FileEvent, error) {
	var f struct {
		URL         *string `json:"url"`
		ContentType *string `json:"content_type"`
		Name        *string `json:"name"`
		InlineRef   *string `json:"inline_ref"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return FileEvent{}, protocolError("invalid file event: %v", err)
	}
	if f.URL == nil || f.ContentType == nil || f.Name == nil {
		return FileEvent{}, protocolError("file event without url, content_type or name")
	}
	ev := FileEvent{URL: *f.URL, ContentType: *f.ContentType, Name: *f.Name}
	if f.InlineRef != nil {
		ev.InlineRef = *f.InlineRef
	}
	return ev, nil
}

func protocolError(format string, args ...any) *Error {
	return &Error{Kind: KindProtocol, Message: fmt.Sprintf(format, args...)}
}
