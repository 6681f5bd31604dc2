package poeopenai

import (
	"bytes"
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
)

// UnmarshalJSON reads the config strictly (an unknown field is an error,
// as Caddy's own decoding has it), and also accepts the JSON names that
// were renamed, so that no config breaks: tokens, tokens_file, timeout
// and reasoning_effort_flag. Provision warns about them.
func (h *Handler) UnmarshalJSON(b []byte) error {
	type plain Handler
	aux := struct {
		*plain
		Tokens              []string       `json:"tokens,omitempty"`
		TokensFile          string         `json:"tokens_file,omitempty"`
		Timeout             caddy.Duration `json:"timeout,omitempty"`
		ReasoningEffortFlag *bool          `json:"reasoning_effort_flag,omitempty"`
	}{plain: (*plain)(h)}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	if aux.Tokens != nil {
		h.PoeKeys = append(h.PoeKeys, aux.Tokens...)
		h.deprecated = append(h.deprecated, "tokens")
	}
	if aux.TokensFile != "" && h.PoeKeysFile == "" {
		h.PoeKeysFile = aux.TokensFile
		h.deprecated = append(h.deprecated, "tokens_file")
	}
	if aux.Timeout != 0 && h.IdleTimeout == 0 {
		h.IdleTimeout = aux.Timeout
		h.deprecated = append(h.deprecated, "timeout")
	}
	if aux.ReasoningEffortFlag != nil {
		h.DisableReasoningEffortFlag = !*aux.ReasoningEffortFlag
		h.deprecated = append(h.deprecated, "reasoning_effort_flag")
	}
	return nil
}
