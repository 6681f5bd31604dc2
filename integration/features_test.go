package integration

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
	"github.com/poe-openai/caddy-poe-openai/internal/tokenizer"
)

var pngData = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image bytes")

func TestAttachments(t *testing.T) {
	fake, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-attach
		max_request_body 64KB
		base_url {FAKE}
		upload_url {FAKE}/poe_api/file_upload_3RD_PARTY_POST
	}`)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	dataURL := "data:image/png;base64," + base64.StdEncoding.EncodeToString(pngData)
	parts := []openai.ChatCompletionContentPartUnionParam{
		openai.TextContentPart("What is in this picture?"),
		openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: dataURL}),
		openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.invalid/cat.jpg"}),
		openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{
			Filename: openai.String("report.pdf"), FileData: openai.String(base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 fake")))}),
		openai.InputAudioContentPart(openai.ChatCompletionContentPartInputAudioInputAudioParam{
			Data: base64.StdEncoding.EncodeToString([]byte("ID3 fake mp3")), Format: "mp3"}),
	}
	params := openai.ChatCompletionNewParams{Model: "Echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(parts)}}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil || resp.Choices[0].Message.Content != "What is in this picture?" {
		t.Fatalf("%v %+v", err, resp)
	}
	ups := fake.Uploads()
	sum := sha256.Sum256(pngData)
	if len(ups) != 4 || ups[0].Filename != "image.png" || ups[0].SHA256 != hex.EncodeToString(sum[:]) || ups[0].Size != int64(len(pngData)) ||
		ups[0].Token != "tok-attach" || ups[0].Bearer || ups[1].DownloadURL != "https://example.invalid/cat.jpg" ||
		ups[2].Filename != "report.pdf" || ups[2].MIMEType != "application/pdf" || ups[3].Filename != "audio.mp3" {
		t.Fatalf("uploads %+v", ups)
	}
	atts := fake.RequestsFor("Echo")[0].Query.Query[0].Attachments
	if len(atts) != 4 || atts[0].URL != ups[0].URL || atts[0].ContentType != "image/png" || atts[1].Name != "cat.jpg" {
		t.Fatalf("attachments %+v", atts)
	}

	// The conversation resent: every attachment comes from the cache.
	if _, err := c.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Uploads()); n != 4 {
		t.Fatalf("%d uploads after resending, want 4", n)
	}
	if atts := fake.RequestsFor("Echo")[1].Query.Query[0].Attachments; len(atts) != 4 || atts[0].URL != ups[0].URL {
		t.Fatalf("cached attachments %+v", atts)
	}

	// An upload failure is retried once; two are a 502.
	one := func(b []byte) openai.ChatCompletionNewParams {
		u := "data:image/png;base64," + base64.StdEncoding.EncodeToString(b)
		return openai.ChatCompletionNewParams{Model: "Echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(
			[]openai.ChatCompletionContentPartUnionParam{openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: u})})}}
	}
	fake.FailUploads(1)
	if _, err := c.Chat.Completions.New(ctx, one([]byte("second image"))); err != nil {
		t.Fatalf("one upload failure: %v", err)
	}
	fake.FailUploads(2)
	_, err = c.Chat.Completions.New(ctx, one([]byte("third image")))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || apiErr.Code != "upload_failed" {
		t.Fatalf("two upload failures: %v", err)
	}

	// Bad parts are a 400 naming the part.
	for _, tt := range []struct{ part, param string }{
		{`{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}`, "messages[0].content[1].image_url.url"},
		{`{"type":"image_url","image_url":{"url":"data:image/svg+xml;base64,PHN2Zz4="}}`, "messages[0].content[1].image_url.url"},
		{`{"type":"file","file":{"file_id":"file-123"}}`, "messages[0].content[1].file.file_id"},
	} {
		r := s.post("/v1/chat/completions", "", `{"model":"Echo","messages":[{"role":"user","content":[{"type":"text","text":"x"},`+tt.part+`]}]}`)
		body := readAll(t, r.Body)
		if r.StatusCode != 400 || !strings.Contains(body, `"param":"`+tt.param+`"`) {
			t.Errorf("%.60s: %d %s", tt.part, r.StatusCode, body)
		}
	}
}

func TestUsage(t *testing.T) {
	_, url := fakePoe(t, nil)
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-usage
		base_url {FAKE}
	}`)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	params := userMessage("Count these tokens, please.")
	params.Model = "Chunks-20x16"
	want := chunksAnswer(20, 16)
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	// prompt: 3 + (4 + "user" + the text); completion: the answer.
	wantPrompt := int64(3 + 4 + tokenizer.Count("user") + tokenizer.Count("Count these tokens, please."))
	if resp.Usage.CompletionTokens != int64(tokenizer.Count(want)) || resp.Usage.PromptTokens != wantPrompt ||
		resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Fatalf("usage %+v", resp.Usage)
	}

	// Streaming without include_usage: no usage anywhere.
	r := s.post("/v1/chat/completions", "", `{"model":"Chunks-3x16","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if body := readAll(t, r.Body); strings.Contains(body, "usage") {
		t.Fatalf("usage without include_usage: %s", body)
	}
	// With it: usage null on every chunk, then a last chunk with no choices.
	r = s.post("/v1/chat/completions", "", `{"model":"Chunks-3x16","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`)
	ev := sseEvents(readAll(t, r.Body))
	for _, e := range ev[:len(ev)-2] {
		if !strings.HasSuffix(e, `,"usage":null}`) {
			t.Fatalf("chunk without usage null: %s", e)
		}
	}
	var last struct {
		Choices []any
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	json.Unmarshal([]byte(strings.TrimPrefix(ev[len(ev)-2], "data: ")), &last)
	if last.Choices == nil || len(last.Choices) != 0 || last.Usage.CompletionTokens != tokenizer.Count(chunksAnswer(3, 16)) || ev[len(ev)-1] != "data: [DONE]" {
		t.Fatalf("usage chunk %s", ev[len(ev)-2])
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if stream.Err() != nil || acc.Usage.CompletionTokens != int64(tokenizer.Count(want)) || acc.Choices[0].Message.Content != want {
		t.Fatalf("%v %+v", stream.Err(), acc.Usage)
	}
}

func TestMaxTokensStopsPoe(t *testing.T) {
	ended := make(chan time.Time, 8)
	_, url := fakePoe(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r); ended <- time.Now() })
	})
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-maxtokens
		base_url {FAKE}
	}`)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	// 200 chunks, one every 50 ms: ten seconds unless we stop early.
	for _, stream := range []bool{false, true} {
		params := userMessage("x")
		params.Model = "Chunks-200x16-50ms"
		params.MaxCompletionTokens = openai.Int(12)
		start := time.Now()
		var content, finish string
		var completion int64
		if stream {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			st := c.Chat.Completions.NewStreaming(ctx, params)
			var acc openai.ChatCompletionAccumulator
			for st.Next() {
				acc.AddChunk(st.Current())
			}
			if st.Err() != nil {
				t.Fatal(st.Err())
			}
			content, finish, completion = acc.Choices[0].Message.Content, string(acc.Choices[0].FinishReason), acc.Usage.CompletionTokens
		} else {
			resp, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			content, finish, completion = resp.Choices[0].Message.Content, string(resp.Choices[0].FinishReason), resp.Usage.CompletionTokens
		}
		if finish != "length" || tokenizer.Count(content) != 12 || completion != 12 {
			t.Fatalf("stream=%v: finish %s, %d tokens (usage %d): %q", stream, finish, tokenizer.Count(content), completion, content)
		}
		select {
		case at := <-ended:
			if at.Sub(start) > 5*time.Second {
				t.Fatalf("Poe's request ran %v", at.Sub(start))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Poe's request was not cancelled")
		}
	}
}

func TestReasoning(t *testing.T) {
	fake, url := fakePoe(t, nil)
	modes := map[string]string{}
	for _, mode := range []string{"split", "inline", "drop"} {
		s := startCaddy(t, url, `
	poe_openai {
		tokens tok-reasoning
		reasoning `+mode+`
		base_url {FAKE}
	}`)
		c := s.client("x")
		params := userMessage("2+2?")
		params.Model = "Reasoning"
		resp, err := c.Chat.Completions.New(ctxTimeout(t, 30*time.Second), params)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Choices []struct {
				Message struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
				}
			}
		}
		json.Unmarshal([]byte(resp.RawJSON()), &raw)
		m := raw.Choices[0].Message
		modes[mode] = m.Content
		switch mode {
		case "split":
			if m.Content != "2 + 2 = 4." || m.ReasoningContent != "The user asks for 2+2.\nThat is 4." || resp.Usage.CompletionTokensDetails.ReasoningTokens == 0 {
				t.Fatalf("split: %+v", m)
			}
			// Streamed: thinking in reasoning_content deltas, no placeholder anywhere.
			r := s.post("/v1/chat/completions", "", `{"model":"Reasoning","stream":true,"messages":[{"role":"user","content":"2+2?"}]}`)
			body := readAll(t, r.Body)
			if !strings.Contains(body, `"reasoning_content":"The user asks for 2+2.`) || strings.Contains(body, "Thinking") || strings.Contains(body, "elapsed") {
				t.Fatalf("split stream: %s", body)
			}
		case "inline":
			if !strings.HasPrefix(m.Content, "*Thinking...*\n\n> The user asks") || m.ReasoningContent != "" {
				t.Fatalf("inline: %+v", m)
			}
		case "drop":
			if m.Content != "2 + 2 = 4." || m.ReasoningContent != "" {
				t.Fatalf("drop: %+v", m)
			}
		}
	}

	// reasoning_effort becomes Poe's prompt flag, unless turned off.
	for _, flag := range []string{"on", "off"} {
		s := startCaddy(t, url, `
	poe_openai {
		tokens tok-reasoning
		reasoning_effort_flag `+flag+`
		base_url {FAKE}
	}`)
		if r := s.post("/v1/chat/completions", "", `{"model":"Echo","reasoning_effort":"high","messages":[{"role":"user","content":"think"}]}`); r.StatusCode != 200 {
			t.Fatal(r.StatusCode)
		}
		reqs := fake.RequestsFor("Echo")
		got := reqs[len(reqs)-1].Query.Query[0].Content
		if want := map[string]string{"on": "think --reasoning_effort high", "off": "think"}[flag]; got != want {
			t.Fatalf("flag %s: %q", flag, got)
		}
	}
}

func TestModelsFromPoe(t *testing.T) {
	fake, url := fakePoe(t, nil)
	fake.SetModels([]string{"Claude-Sonnet-4", "GPT-4o", "my-mapped"})
	s := startCaddy(t, url, `
	poe_openai {
		tokens tok-models
		bot my-mapped Echo
		bot alias V1
		models_from_poe on
		unknown_models reject
		base_url {FAKE}
	}`)
	c := s.client("x")
	ctx := ctxTimeout(t, 30*time.Second)
	// The first fetch runs in the background at start-up; the first
	// /models waits for it.
	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "alias,my-mapped,Claude-Sonnet-4,GPT-4o" {
		t.Fatalf("models %v", ids)
	}
	if c := page.Data[2].Created; c >= 1e12 || c < 1e9 {
		t.Fatalf("created not in seconds: %d", c)
	}
	// reject accepts exactly the listed ids.
	if r := s.post("/v1/chat/completions", "", `{"model":"GPT-4o","messages":[{"role":"user","content":"x"}]}`); r.StatusCode != 404 {
		// GPT-4o is listed but is not a bot of the fake: Poe's own 404.
		t.Fatalf("listed model: %d", r.StatusCode)
	}
	if n := len(fake.RequestsFor("GPT-4o")); n != 1 {
		t.Fatalf("a listed model must reach Poe (%d requests)", n)
	}
	params := userMessage("x")
	params.Model = "Not-Listed"
	_, err = c.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" || len(fake.RequestsFor("Not-Listed")) != 0 {
		t.Fatalf("unlisted: %v", err)
	}
	if fake.ModelListHits() != 1 {
		t.Fatalf("model list fetched %d times", fake.ModelListHits())
	}
}

var _ = poefake.ChunkText
