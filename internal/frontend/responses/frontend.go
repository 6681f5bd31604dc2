// Package responses is the OpenAI Responses API front end (POST
// /responses, GET and DELETE /responses/{id}): it parses requests into the
// shared conversation model (conv), writes answers as a response object or
// its event stream, and keeps finished responses for previous_response_id.
// It knows nothing about Poe or Caddy.
package responses

import (
	"net/http"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
	"github.com/poe-openai/caddy-poe-openai/internal/frontend/chat"
)

// Options configure the front end.
type Options struct {
	StoreBytes int64         // bound of the stored responses, in bytes; 0 = store nothing
	StoreTTL   time.Duration // lifetime of a stored response
	// Remote, when set, keeps the stored responses where every instance
	// finds them (the Redis of `redis`), with this instance's memory as
	// fallback: see remoteStore.
	Remote Remote
}

// FrontEnd serves /responses.
type FrontEnd struct {
	opts  Options
	store responseStore
}

// New returns a front end with its own response store.
func New(opts Options) *FrontEnd {
	local := newStore(opts.StoreBytes, opts.StoreTTL, time.Now)
	if opts.Remote != nil {
		return &FrontEnd{opts: opts, store: newRemoteStore(opts.Remote, local)}
	}
	return &FrontEnd{opts: opts, store: local}
}

// Parse validates a /responses body. client keys the stored responses.
func (fe *FrontEnd) Parse(body []byte, client string) (conv.Parsed, *conv.Error) {
	prev := func(id string) ([]conv.Message, bool) { return fe.store.conversation(client, id) }
	req, e, names, ce := parseRequest(body, prev)
	if ce != nil {
		return nil, ce
	}
	p := &parsed{fe: fe, client: client, id: newID("resp_"), req: req, echo: e, names: names}
	if e.store && fe.store.enabled() {
		p.history = keepConversation(req.Messages)
	}
	return p, nil
}

// WriteError answers in OpenAI's error shape.
func (fe *FrontEnd) WriteError(w http.ResponseWriter, e *conv.Error) { chat.WriteError(w, e) }

// ServeStored answers GET and DELETE /responses/{id} for client: a
// response stored for another client is not found.
func (fe *FrontEnd) ServeStored(w http.ResponseWriter, r *http.Request, client, id string) {
	var body []byte
	var found bool
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		body, found = fe.store.body(client, id)
	case http.MethodDelete:
		if found = fe.store.remove(client, id); found {
			body = marshal(struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Deleted bool   `json:"deleted"`
			}{id, "response", true})
		}
	default:
		w.Header().Set("Allow", "GET, DELETE")
		fe.WriteError(w, &conv.Error{Status: http.StatusMethodNotAllowed, Type: conv.TypeInvalidRequest,
			Message: "Method " + r.Method + " is not allowed here: use GET or DELETE."})
		return
	}
	if !found {
		fe.WriteError(w, &conv.Error{Status: http.StatusNotFound, Type: conv.TypeInvalidRequest, Param: "response_id",
			Message: "Response with id '" + id + "' not found."})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
}

// parsed is one validated request.
type parsed struct {
	fe      *FrontEnd
	client  string
	id      string // resp_...
	req     *conv.Request
	echo    *echo
	names   toolNames
	history []conv.Message // the conversation to store; nil = store nothing
}

func (p *parsed) Request() *conv.Request { return p.req }

func (p *parsed) Output(w http.ResponseWriter, o conv.OutputOptions) conv.Output {
	if p.req.Stream {
		return newStream(p, w, o)
	}
	return &jsonOutput{p: p, w: w, created: o.Start.Unix()}
}

// save stores the finished response r (whose output answered the
// request's conversation) when the request asked for it.
func (p *parsed) save(r *responseJSON, body []byte, answer conv.Message) {
	if p.history == nil {
		return
	}
	msgs := append(p.history, answer)
	p.history = nil
	p.fe.store.put(p.client, r.ID, msgs, body)
}

// answerMessage is the assistant turn of a result, as the next request's
// conversation holds it.
func answerMessage(content string, calls []conv.ToolCall) conv.Message {
	m := conv.Message{Role: conv.RoleAssistant, ToolCalls: calls, Param: storedParam, IDParam: storedParam}
	if content != "" || len(calls) == 0 {
		m.Content = []conv.Part{{Type: conv.PartText, Text: content, Param: storedParam}}
		m.Text = true
	}
	return m
}

// jsonOutput writes a non-streaming response object.
type jsonOutput struct {
	p       *parsed
	w       http.ResponseWriter
	created int64
	conv.Whole
}

func (o *jsonOutput) Finish(res *conv.Result) error {
	r := o.p.base(o.created)
	if res.Reasoning != "" {
		r.Output = append(r.Output, reasoningItem(newID("rs_"), res.Reasoning, "completed"))
	}
	if res.Content != "" {
		r.Output = append(r.Output, messageItem(newID("msg_"), res.Content, "completed"))
	}
	calls := mintCallIDs(res.ToolCalls)
	for _, c := range calls {
		r.Output = append(r.Output, callItem(o.p.names, c))
	}
	finish(r, res, time.Now().Unix())
	body := marshal(r)
	o.p.save(r, body, answerMessage(res.Content, calls))
	o.w.Header().Set("Content-Type", "application/json")
	o.w.WriteHeader(http.StatusOK)
	_, err := o.w.Write(append(body, '\n'))
	o.Wrote = time.Now()
	return err
}

func (o *jsonOutput) Fail(e *conv.Error) bool {
	chat.WriteError(o.w, e)
	o.Wrote = time.Now()
	return true
}

// mintCallIDs gives a call_ id to the calls Poe sent without one.
func mintCallIDs(calls []conv.ToolCall) []conv.ToolCall {
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = newID("call_")
		}
	}
	return calls
}
