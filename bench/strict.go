package main

import (
	"encoding/json"
	"errors"
	"fmt"
)

// strictState decodes each chunk with encoding/json and checks the shape:
// one id and model for the whole stream, one choice with index 0, the role
// before or with the first content, and the same content and finish as the
// fast path found.
type strictState struct {
	id, model string
	role      bool
}

type strictChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

func (s *strictState) chunk(data, content []byte, finish bool) error {
	var ch strictChunk
	if err := json.Unmarshal(data, &ch); err != nil {
		return fmt.Errorf("strict: chunk %q: %v", clip(data), err)
	}
	if s.id == "" {
		s.id, s.model = ch.ID, ch.Model
	}
	switch {
	case ch.ID == "" || ch.ID != s.id || ch.Model != s.model || ch.Created == 0:
		return fmt.Errorf("strict: id/model/created changed or empty: %q", clip(data))
	case len(ch.Choices) != 1 || ch.Choices[0].Index != 0:
		return fmt.Errorf("strict: want one choice with index 0: %q", clip(data))
	}
	d := ch.Choices[0]
	if d.Delta.Role != nil {
		if *d.Delta.Role != "assistant" {
			return fmt.Errorf("strict: role %q", *d.Delta.Role)
		}
		s.role = true
	}
	got := ""
	if d.Delta.Content != nil {
		got = *d.Delta.Content
	}
	switch {
	case got != string(content):
		return fmt.Errorf("strict: content %q, fast path read %q", clip([]byte(got)), clip(content))
	case got != "" && !s.role:
		return errors.New("strict: content before the assistant role")
	case (d.FinishReason != nil) != finish:
		return fmt.Errorf("strict: finish_reason disagrees with the fast path: %q", clip(data))
	}
	return nil
}

func strictCompletion(body, content []byte) error {
	var c struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Index   int `json:"index"`
			Message struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("strict: completion: %v", err)
	}
	if c.ID == "" || c.Model == "" || len(c.Choices) != 1 || c.Choices[0].Index != 0 || c.Choices[0].Message.Role != "assistant" ||
		c.Choices[0].Message.Content == nil || *c.Choices[0].Message.Content != string(content) || c.Choices[0].FinishReason != "stop" {
		return fmt.Errorf("strict: completion shape or content: %q", clip(body))
	}
	return nil
}
