package translate

import (
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/poeclient"
)

// simulate decides whether to flatten the conversation. "auto" keeps
// native roles for a lone user message, a lone system message or
// system+user, as the original poe-openai-proxy did.
func simulate(mode string, msgs []*msg) bool {
	switch mode {
	case SimulateOn:
		return true
	case SimulateAuto:
		switch {
		case len(msgs) == 1 && (msgs[0].role == poeclient.RoleUser || msgs[0].role == poeclient.RoleSystem):
			return false
		case len(msgs) == 2 && msgs[0].role == poeclient.RoleSystem && msgs[1].role == poeclient.RoleUser:
			return false
		}
		return true
	}
	return false
}

var simulatedLabel = map[string]string{
	poeclient.RoleSystem: "Instructions",
	poeclient.RoleUser:   "User",
	poeclient.RoleBot:    "Assistant",
}

// flatten turns the conversation into one user message of "||>Role:"
// blocks ending with "||>Assistant:", for bots that ignore history.
// Every attachment moves to that message.
func (b *builder) flatten() {
	var text strings.Builder
	one := &msg{role: poeclient.RoleUser, origin: -1}
	for _, m := range b.msgs {
		text.WriteString("||>" + simulatedLabel[m.role] + ":\n")
		text.WriteString(m.text.String())
		text.WriteString("\n")
		one.uploads = append(one.uploads, m.uploads...)
	}
	text.WriteString("||>Assistant:\n")
	one.text.WriteString(text.String())
	b.msgs = []*msg{one}
}
