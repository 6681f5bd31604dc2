// Package chat is the OpenAI Chat Completions front end: it parses and
// validates /chat/completions requests into the shared conversation model
// (conv), and writes answers as chat.completion JSON or chunk streams.
// It knows nothing about Poe or Caddy.
package chat

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// ErrorBody is e as OpenAI's {"error":{"message","type","param","code"}},
// with null for an empty param or code. HTML characters stay as they are:
// messages may quote <key>, and clients show them verbatim.
func ErrorBody(e *conv.Error) []byte {
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		b.Param = &e.Param
	}
	if e.Code != "" {
		b.Code = &e.Code
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct { // of plain strings: cannot fail
		Error body `json:"error"`
	}{b})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// WriteError sends e as an HTTP response.
func WriteError(w http.ResponseWriter, e *conv.Error) {
	body := ErrorBody(e)
	e.SetHeaders(w.Header(), len(body)+1)
	w.WriteHeader(e.Status)
	w.Write(append(body, '\n'))
}
