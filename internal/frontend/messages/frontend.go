// Package messages is the Anthropic Messages API front end (POST
// /messages, POST /messages/count_tokens, and /models in Anthropic's
// shape): it parses requests into the shared conversation model (conv)
// and writes answers as a Message or its event stream, and errors as
// {"type":"error","error":{...}}. It knows nothing about Poe or Caddy.
package messages

import (
	"net/http"
	"strconv"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// FrontEnd serves /messages.
type FrontEnd struct{}

var _ conv.Counter = FrontEnd{}

// Parse validates a /messages body.
func (FrontEnd) Parse(body []byte, _ string) (conv.Parsed, *conv.Error) {
	req, opts, e := parseRequest(body, false)
	if e != nil {
		return nil, e
	}
	return &parsed{req: req, opts: opts}, nil
}

// ParseCount validates a /messages/count_tokens body: a /messages body
// without max_tokens or stream.
func (FrontEnd) ParseCount(body []byte) (*conv.Request, *conv.Error) {
	req, _, e := parseRequest(body, true)
	return req, e
}

// WriteCount answers a count_tokens request.
func (FrontEnd) WriteCount(w http.ResponseWriter, n int) {
	b := append([]byte(`{"input_tokens":`), strconv.Itoa(n)...)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Request-Id", newID("req_"))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// WriteError answers in Anthropic's error shape.
func (FrontEnd) WriteError(w http.ResponseWriter, e *conv.Error) { writeError(w, e) }

type parsed struct {
	req  *conv.Request
	opts options
}

func (p *parsed) Request() *conv.Request { return p.req }

func (p *parsed) Output(w http.ResponseWriter, o conv.OutputOptions) conv.Output {
	model := p.req.Model
	if p.req.Stream {
		return newStream(w, model, p.opts.thinking, o.KeepAlive)
	}
	return &jsonOutput{w: w, model: model, thinking: p.opts.thinking}
}

// jsonOutput writes a non-streaming Message.
type jsonOutput struct {
	w        http.ResponseWriter
	model    string
	thinking bool
	conv.Whole
}

func (o *jsonOutput) Finish(r *conv.Result) error {
	body := appendMessage(nil, newID("msg_"), o.model, r, o.thinking)
	body = append(body, '\n')
	h := o.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Request-Id", newID("req_"))
	o.w.WriteHeader(http.StatusOK)
	_, err := o.w.Write(body)
	o.Wrote = time.Now()
	return err
}

func (o *jsonOutput) Fail(e *conv.Error) bool {
	writeError(o.w, e)
	o.Wrote = time.Now()
	return true
}

var _ conv.Output = (*stream)(nil)
