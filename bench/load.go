package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// Path names, in table order.
const (
	pathModule = "module"
	pathProxy  = "reverse_proxy"
	pathDirect = "direct"
)

// target is one way to get an answer.
type target struct {
	name  string
	url   string // chat completions endpoint, or the fake's /bot/ prefix
	poe   bool   // speaks Poe's protocol (direct), not OpenAI's
	caddy *child // the Caddy in the path, if any
}

// job is the answer asked for, with its request bodies built once.
type job struct {
	bot        string
	n, size    int
	stream     bool
	want       []byte // the expected content
	openaiBody []byte
	poeBody    []byte
}

func newJob(bot string, stream bool) (*job, error) {
	n, size, _, ok := poefake.ParseChunks(bot)
	if !ok {
		return nil, fmt.Errorf("%q is not a Chunks-<n>x<size>[-<interval>] bot", bot)
	}
	j := &job{bot: bot, n: n, size: size, stream: stream}
	for i := range n {
		j.want = append(j.want, poefake.ChunkText(i, size)...)
	}
	var err error
	j.openaiBody, err = json.Marshal(map[string]any{
		"model": bot, "stream": stream,
		"messages": []map[string]string{{"role": "user", "content": "benchmark"}},
	})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := poeclient.EncodeQuery(&b, poeclient.NewQuery([]poeclient.ProtocolMessage{
		poeclient.NewMessage(poeclient.RoleUser, "benchmark")})); err != nil {
		return nil, err
	}
	j.poeBody = b.Bytes()
	return j, nil
}

// Headers are shared by all requests: the transport only reads them.
var (
	openaiHeader = http.Header{"Content-Type": {"application/json"}, "Accept": {"text/event-stream, application/json"}}
	poeHeader    = http.Header{"Content-Type": {"application/json"}, "Accept": {"text/event-stream"},
		"Cache-Control": {"no-store"}, "Authorization": {"Bearer " + benchTokens[0]}}
)

// newClient is tuned so that the client never limits the load: as many
// idle connections per host as there are clients, no cap on connections.
// h2c sends HTTP/2 without TLS, for more streams than file descriptors.
func newClient(conns int, h2c bool) *http.Client {
	t := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: max(conns, 2),
		MaxConnsPerHost:     0, // no limit
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: t}
}

// worker runs requests one after the other, reusing its buffers.
type worker struct {
	client  *http.Client
	lines   lineReader
	poe     poeStream
	check   answerCheck
	body    []byte
	answers int // completed, to choose which are checked strictly
}

// strictEvery: one answer in this many per worker (the first included) is
// also decoded in full with encoding/json.
const strictEvery = 64

// result is one checked answer.
type result struct {
	ttft time.Duration // request sent -> first content piece read
}

// do asks t for j's answer, reads all of it and checks it. onFirst, if not
// nil, is called when the first content piece arrives.
func (w *worker) do(ctx context.Context, t *target, j *job, onFirst func()) (result, error) {
	url, body, header := t.url, j.openaiBody, openaiHeader
	if t.poe {
		url, body, header = t.url+j.bot, j.poeBody, poeHeader
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header = header
	w.check.reset(j.want, onFirst, w.answers%strictEvery == 0)
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	if err := checkResponse(resp, t.poe || j.stream); err != nil {
		return result{}, err
	}
	switch {
	case !t.poe && !j.stream:
		err = w.readCompletion(resp.Body)
	default:
		err = w.readStream(resp.Body, t.poe)
	}
	if err == nil {
		err = w.check.complete()
	}
	if err != nil {
		return result{}, err
	}
	w.answers++
	return result{ttft: w.check.firstAt.Sub(start)}, nil
}

func checkResponse(resp *http.Response, stream bool) error {
	ct := resp.Header.Get("Content-Type")
	want := "application/json"
	if stream {
		want = "text/event-stream"
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, want) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d, Content-Type %q, want 200 %s: %s", resp.StatusCode, ct, want, clip(b))
	}
	return nil
}

func (w *worker) readStream(r io.Reader, poe bool) error {
	w.lines.reset(r)
	w.poe.reset()
	for {
		line, err := w.lines.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the stream: %w", err)
		}
		if poe {
			err = w.poe.line(&w.check, line)
		} else {
			err = w.check.openAILine(line)
		}
		if err != nil {
			return err
		}
	}
}

func (w *worker) readCompletion(r io.Reader) error {
	w.body = w.body[:0]
	for {
		if len(w.body) == cap(w.body) {
			w.body = append(w.body, 0)[:len(w.body)]
		}
		n, err := r.Read(w.body[len(w.body):cap(w.body)])
		w.body = w.body[:len(w.body)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the body: %w", err)
		}
	}
	return w.check.completion(w.body)
}

// errorLog keeps a count of failures and the first few distinct messages.
type errorLog struct {
	n     int
	first []string
}

func (e *errorLog) add(err error) {
	e.n++
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "canceled"
	}
	if len(e.first) < 3 && !slices.Contains(e.first, msg) {
		e.first = append(e.first, msg)
	}
}

func (e *errorLog) merge(o errorLog) {
	e.n += o.n
	for _, m := range o.first {
		if len(e.first) < 3 && !slices.Contains(e.first, m) {
			e.first = append(e.first, m)
		}
	}
}
