package poefake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// static wraps a fixed script; the script is built once and shared.
func static(steps ...Step) Bot {
	sc := Script(steps)
	return func(*Request) Script { return sc }
}

// chunk is an OpenAI chat.completion.chunk as in fastapi_poe's tests (V6).
func chunk(delta, finishReason string) string {
	return `{"id":"chatcmpl-abcde","object":"chat.completion.chunk","created":1738799163,"model":"gpt-3.5-turbo-0125","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":` +
		delta + `,"logprobs":null,"finish_reason":` + finishReason + `}],"usage":null}`
}

func toolDelta(index int, id, name, args string) string {
	head := ""
	if id != "" {
		head = fmt.Sprintf(`"id":%q,"type":"function",`, id)
	}
	fn := fmt.Sprintf(`"arguments":%s`, strconv.Quote(args))
	if name != "" {
		fn = fmt.Sprintf(`"name":%q,`, name) + fn
	}
	return fmt.Sprintf(`{"tool_calls":[{"index":%d,%s"function":{%s}}]}`, index, head, fn)
}

// v7Chunk is V7's content chunk (no service_tier, unlike V6).
func v7Chunk(content string) string {
	return `{"id":"chatcmpl-abcde","object":"chat.completion.chunk","created":1738799163,"model":"gpt-3.5-turbo-0125","choices":[{"index":0,"delta":{"content":` +
		strconv.Quote(content) + `},"logprobs":null,"finish_reason":null}],"usage":null}`
}

const (
	fileURL  = "https://pfst.cf2.poecdn.net/base/image/f8042baa?w=1024&h=1024"
	imageURL = "https://pfst.cf2.poecdn.net/base/image/fake1?w=1024&h=1024"
)

var v6Calls = Script{
	JSON(chunk(toolDelta(0, "call_123", "get_current_weather", ""), "null")),
	JSON(chunk(toolDelta(0, "", "", `{"location":`), "null")),
	JSON(chunk(toolDelta(0, "", "", `"Paris"}`), "null")),
	JSON(chunk(`{}`, `"tool_calls"`)),
	Done(),
}

var (
	v6Answer  = Script{Text("It is 22 degrees in Paris."), Done()}
	v6NoTools = Script{Text("I have no tools."), Done()}
)

// botV6 plays the tool round trip: calls when offered tools, an answer
// once the results come back.
func botV6(req *Request) Script {
	switch {
	case len(req.Query.ToolResults) > 0:
		return v6Answer
	case len(req.Query.Tools) > 0:
		return v6Calls
	}
	return v6NoTools
}

func rateLimited429() Step {
	h := http.Header{}
	h.Set("Retry-After", "1")
	h.Set("X-Ratelimit-Reset-Requests", "1")
	h.Set("Content-Type", "application/json")
	return Status(http.StatusTooManyRequests, h, errorBody(msgRateLimited, typeRateLimit, codeRateExceeded))
}

// botEcho answers the last user message in text events of at most 8 bytes,
// cut on rune boundaries.
func botEcho(req *Request) Script {
	content := ""
	for i := len(req.Query.Query) - 1; i >= 0; i-- {
		if req.Query.Query[i].Role == poeclient.RoleUser {
			content = req.Query.Query[i].Content
			break
		}
	}
	if content == "" {
		return Script{Text("(empty)"), Done()}
	}
	sc := make(Script, 0, len(content)/8+2)
	for content != "" {
		n := 0
		for n < len(content) {
			_, size := utf8.DecodeRuneInString(content[n:])
			if n+size > 8 {
				break
			}
			n += size
		}
		sc = append(sc, Text(content[:n]))
		content = content[n:]
	}
	return append(sc, Done())
}

// descriptions are shown by /v1/models.
var descriptions = map[string]string{
	"V1":          "Vector V1: two text events, a ping comment, done",
	"V2":          "Vector V2: meta, replace_response, suggested reply, text after done",
	"V3":          "Vector V3: retryable error before any output, no done",
	"V4":          "Vector V4: insufficient_fund error followed by done",
	"V5":          "Vector V5: text, then a retryable error mid-stream",
	"V6":          "Vector V6: tool call round trip",
	"V6-parallel": "Vector V6 variant: two parallel tool calls",
	"V7":          "Vector V7: content as json chunks plus a usage-only chunk",
	"V7-text":     "Vector V7 variant: the same answer as text events",
	"V8":          "Vector V8: file event with inline ref",
	"V8-noref":    "Vector V8 variant: file event without inline ref",
	"V9":          "Vector V9: EOF without done",
	"V10":         "Vector V10: events a client must ignore",
	"V10-badjson": "Vector V10: text event with invalid JSON",
	"V10-nontext": "Vector V10: text event whose text is a number",
	"V10-meta123": "Vector V10: first event meta with data 123",
	"V11":         "Vector V11: HTTP 401",
	"V11-429":     "Vector V11: HTTP 429",
	"Echo":        "Echoes the last user message in 8-byte chunks",
	"Stall":       "Sends some text, then nothing",
	"Stall-first": "Sends headers, then nothing",
	"Reasoning":   "Thinking placeholder rewritten with replace_response",
	"Image":       "Generates a (fake) image",
	AgentShellBot: "Plays a coding agent: one shell tool call, then quotes its result",
}

func builtinBots() map[string]Bot {
	return map[string]Bot{
		"V1": static(Text("Hello"), Text(" café!"), Ping(), Done()),
		"V2": static(Meta(), Text("Thinking..."), Replace("The capital of Nepal is"), Text(" Kathmandu."),
			SuggestedReply("What about Bhutan?"), Done(), Text("IGNORED AFTER DONE")),
		"V3": static(Error(true, "Internal server error", "")),
		"V4": static(noPointsScript...),
		"V5": static(Text("Partial answ"), Error(true, "Internal server error", "")),
		"V6": botV6,
		"V6-parallel": static(
			JSON(chunk(toolDelta(0, "call_1", "get_current_weather", ""), "null")),
			JSON(chunk(toolDelta(1, "call_2", "get_current_weather", ""), "null")),
			JSON(chunk(toolDelta(0, "", "", `{"location":`), "null")),
			JSON(chunk(toolDelta(1, "", "", `{"location":`), "null")),
			JSON(chunk(toolDelta(0, "", "", `"Paris"}`), "null")),
			JSON(chunk(toolDelta(1, "", "", `"Tokyo"}`), "null")),
			JSON(chunk(`{}`, `"tool_calls"`)),
			Done()),
		"V7": static(JSON(v7Chunk("there were")), JSON(v7Chunk(" no tool calls!")),
			JSON(`{"id":"chatcmpl-abcde","object":"chat.completion.chunk","created":1738799163,"model":"gpt-3.5-turbo-0125","choices":[],"usage":{"completion_tokens":1,"prompt_tokens":1}}`),
			Done()),
		"V7-text":  static(Text("there were"), Text(" no tool calls!"), Done()),
		"V8":       static(File(fileURL, "image/png", "image.png", "Ab3dE9xZ"), Text("Here it is: ![image.png][Ab3dE9xZ]"), Done()),
		"V8-noref": static(File(fileURL, "image/png", "image.png", ""), Text("Here is your file."), Done()),
		"V9":       static(Text("truncated but ok")),
		"V10": static(Meta(), Event("data", `{"metadata": "x"}`), Event("weird", "{}"), Event("ping", "{}"),
			Text("hello"), Meta(), Done()),
		"V10-badjson": static(Event("text", `{"text": banana}`), Done()),
		"V10-nontext": static(Event("text", `{"text": 123}`), Done()),
		"V10-meta123": static(Event("meta", "123"), Text("after bad meta"), Done()),
		"V11":         static(Status(http.StatusUnauthorized, http.Header{"Content-Type": {"application/json"}}, errorBody(msgInvalidKey, typeInvalidReq, codeInvalidKey))),
		"V11-429":     static(rateLimited429()),
		"Echo":        botEcho,
		"Stall":       static(Text("partial"), Hang()),
		"Stall-first": static(Hang()),
		"Reasoning": static(Text("*Thinking...*"), Replace("Thinking... (1s elapsed)"), Replace("Thinking... (2s elapsed)"),
			Replace("*Thinking...*\n\n> The user asks for 2+2.\n> That is 4.\n\n"), Text("2 + 2 = "), Text("4."), Done()),
		"Image": static(Replace("Generating image..."), File(imageURL, "image/png", "image.png", "Ab3dE9xZ"),
			Replace("Here it is: ![image.png][Ab3dE9xZ]"), Done()),
		AgentShellBot: agentShell,
	}
}

// maxDynamic bounds the cache of parsed Chunks-/Slow- bots.
const maxDynamic = 4096

// lookupLocked finds a registered bot, or parses a Chunks-/Slow- name.
// The caller holds s.mu.
func (s *Server) lookupLocked(name string) Bot {
	if b, ok := s.bots[name]; ok {
		return b
	}
	if b, ok := s.dynamic[name]; ok {
		return b
	}
	var b Bot
	cache := len(s.dynamic) < maxDynamic
	if n, size, every, ok := ParseChunks(name); ok {
		b = chunksBot(n, size, every)
		cache = cache && n*size <= maxCachedBytes
	} else if d, ok := parseSlow(name); ok {
		b = static(Sleep(d), Text("slow answer"), Done())
	} else if s.opts.EchoUnknown {
		return s.bots["Echo"]
	} else {
		return nil
	}
	if cache {
		s.dynamic[name] = b
	}
	return b
}

// Limits that keep a typo from building a gigabyte script.
const (
	maxChunks      = 100_000
	maxChunkSize   = 1 << 20
	maxChunksBytes = 64 << 20 // n*size
	maxCachedBytes = 1 << 20  // larger scripts are rebuilt per request
)

// ParseChunks parses "Chunks-<n>x<size>" or "Chunks-<n>x<size>-<interval>"
// (interval as time.ParseDuration reads it).
func ParseChunks(name string) (n, size int, interval time.Duration, ok bool) {
	rest, found := strings.CutPrefix(name, "Chunks-")
	if !found {
		return 0, 0, 0, false
	}
	spec, iv, hasInterval := strings.Cut(rest, "-")
	ns, ss, found := strings.Cut(spec, "x")
	if !found {
		return 0, 0, 0, false
	}
	n, err1 := strconv.Atoi(ns)
	size, err2 := strconv.Atoi(ss)
	if err1 != nil || err2 != nil || n < 0 || n > maxChunks || size < 0 || size > maxChunkSize || n*size > maxChunksBytes {
		return 0, 0, 0, false
	}
	if hasInterval {
		d, err := time.ParseDuration(iv)
		if err != nil || d < 0 {
			return 0, 0, 0, false
		}
		interval = d
	}
	return n, size, interval, true
}

func parseSlow(name string) (time.Duration, bool) {
	rest, found := strings.CutPrefix(name, "Slow-")
	if !found {
		return 0, false
	}
	d, err := time.ParseDuration(rest)
	return d, err == nil && d >= 0
}

func chunksBot(n, size int, interval time.Duration) Bot {
	steps := make([]Step, 0, 2*n+1)
	for i := range n {
		if i > 0 && interval > 0 {
			steps = append(steps, Sleep(interval))
		}
		steps = append(steps, Text(ChunkText(i, size)))
	}
	return static(append(steps, Done())...)
}

// ChunkText is the content of chunk i of a Chunks bot: exactly size bytes of
// printable ASCII, the decimal i, a '.', then lowercase letters cycling from
// the position (truncated if size is too small).
func ChunkText(i, size int) string {
	b := make([]byte, size)
	p := strconv.AppendInt(make([]byte, 0, 24), int64(i), 10)
	p = append(p, '.')
	n := copy(b, p)
	for j := n; j < size; j++ {
		b[j] = byte('a' + ((i+j)%26+26)%26)
	}
	return string(b)
}

// Script returns what bot name would answer to req, so that tests can feed
// a vector's exact wire bytes (Script.Bytes) to a decoder without HTTP.
func (s *Server) Script(name string, req *Request) (Script, bool) {
	s.mu.Lock()
	b := s.lookupLocked(name)
	s.mu.Unlock()
	if b == nil {
		return nil, false
	}
	if req == nil {
		req = &Request{Bot: name}
	}
	return b(req), true
}
